"""Locked stages: how a lesson's link into one reads, the locked page with its free-roam offer, instructors who
pass every lock, and the one refusal a locked stage answers with."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lessons import attempts, grading
from lessons.models import LearnerProfile, Node, NodeProgress, Question, QuizAttempt
from lessons.rendering import mark_locked_links, render_markdown
from lessons.selectors import NodeLocked
from lessons.services import content_sync
from mlopslab.refusals import Refused
from tests.content_tree import write_content_tree, write_questions

HTMX = {"HTTP_HX_REQUEST": "true"}
FIRST_LESSON = reverse("lessons:lesson", args=["first", "intro"])
SECOND = reverse("lessons:node", args=["second"])
NOTE = "Locked: complete “The first node” first"


@pytest.fixture
def linked_course(tmp_path: Path, db: None) -> Path:
    """The two-node course, with the first lesson linking forward into the second stage and its lesson."""
    root = write_content_tree(tmp_path)
    lesson = root / "01-first" / "01-intro.md"
    lesson.write_text(
        lesson.read_text().replace(
            "See [the other](lesson:first/intro).",
            "Next comes [the second stage](node:second), starting with [its intro](lesson:second/intro).",
        )
    )
    write_questions(root)
    content_sync(root=root)
    return root


def _instructor(user: User) -> User:
    user.groups.add(Group.objects.get(name="Instructors"))
    return User.objects.get(pk=user.pk)  # a fresh object, without the cached permissions


# --- links into a locked stage ----------------------------------------------------------------


def test_internal_links_name_their_stage_and_keep_it_through_the_sanitizer() -> None:
    urls = {"node:second": "/map/second/", "lesson:second/intro": "/map/second/intro/"}
    html = render_markdown(
        "[a](node:second) and [b](lesson:second/intro) and [c](https://example.org/)", resolver=urls.get
    ).html
    assert '<a href="/map/second/" data-node="second"' in html
    assert '<a href="/map/second/intro/" data-node="second"' in html
    assert 'href="https://example.org/" rel="noopener noreferrer">c' in html
    assert html.count("data-node=") == 2


def test_marking_locked_links_leaves_other_links_alone_and_escapes_the_note() -> None:
    html = render_markdown("[one *stage*](node:second) and [another](node:third)", resolver=lambda target: "/x/").html
    marked = mark_locked_links(html, {"second": "Locked: <b>not</b> yet"})
    assert '<span class="locked-link" data-node="second">one <em>stage</em> ' in marked
    assert "(Locked: &lt;b&gt;not&lt;/b&gt; yet)" in marked
    assert '<a href="/x/" data-node="third"' in marked
    assert mark_locked_links(html, {}) == html


def test_a_lesson_link_into_a_locked_stage_shows_the_lock_and_reason_instead_of_a_link(
    learner_client: Client, linked_course: Path
) -> None:
    html = learner_client.get(FIRST_LESSON).content.decode()
    assert html.count('class="locked-link"') == 2
    assert f"({NOTE})" in html
    assert 'href="/map/second/"' not in html
    assert 'href="/map/second/intro/"' not in html


def test_the_same_lesson_links_normally_once_the_stage_opens(
    learner_client: Client, learner: User, linked_course: Path
) -> None:
    NodeProgress.objects.create(user=learner, node=Node.objects.get(slug="first"), completed_at=timezone.now())
    html = learner_client.get(FIRST_LESSON).content.decode()
    assert "locked-link" not in html
    assert '<a href="/map/second/" data-node="second"' in html
    assert learner_client.get("/map/second/").status_code == 200


def test_the_lock_is_per_learner_on_the_one_stored_lesson(
    client: Client, learner: User, other_learner: User, linked_course: Path
) -> None:
    NodeProgress.objects.create(user=other_learner, node=Node.objects.get(slug="first"), completed_at=timezone.now())
    client.force_login(other_learner)
    assert "locked-link" not in client.get(FIRST_LESSON).content.decode()
    client.force_login(learner)
    assert "locked-link" in client.get(FIRST_LESSON).content.decode()


# --- the locked page and free roam --------------------------------------------------------------


def test_the_locked_page_explains_the_lock_and_offers_free_roam(learner_client: Client, course: object) -> None:
    response = learner_client.get(SECOND)
    html = response.content.decode()
    assert response.status_code == 403
    assert "Complete “The first node” first." in html
    assert '<a href="/map/first/">The first node</a>' in html
    assert f'<form method="post" action="{reverse("lessons:profile")}">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="free_roam" value="on">' in html
    assert f'<input type="hidden" name="next" value="{SECOND}">' in html


def test_free_roam_from_the_locked_page_opens_the_stage_it_came_from(
    learner_client: Client, learner: User, course: object
) -> None:
    response = learner_client.post(reverse("lessons:profile"), {"free_roam": "on", "next": SECOND}, follow=True)
    assert response.redirect_chain == [(SECOND, 302)]
    assert response.status_code == 200
    assert "Free roam is on" in response.content.decode()
    assert LearnerProfile.objects.get(user=learner).free_roam


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/map/", "javascript:alert(1)", ""])
def test_free_roam_never_redirects_off_the_site(learner_client: Client, course: object, target: str) -> None:
    response = learner_client.post(reverse("lessons:profile"), {"free_roam": "on", "next": target})
    assert response.status_code == 302
    assert response.url == reverse("lessons:profile")


def test_a_posted_lock_offers_to_return_to_the_stage_not_the_post_url(learner_client: Client, course: object) -> None:
    html = learner_client.post(reverse("lessons:lesson_read", args=["second", "intro"])).content.decode()
    assert f'<input type="hidden" name="next" value="{SECOND}">' in html


def test_reading_the_profile_writes_nothing(learner_client: Client, learner: User, course: object) -> None:
    response = learner_client.get(reverse("lessons:profile"))
    assert response.status_code == 200
    assert 'name="free_roam"' in response.content.decode()
    assert not LearnerProfile.objects.exists()


def test_free_roam_switches_off_on_the_existing_profile(learner_client: Client, learner: User, course: object) -> None:
    learner_client.post(reverse("lessons:profile"), {"free_roam": "on"})
    learner_client.post(reverse("lessons:profile"), {})
    assert list(LearnerProfile.objects.values_list("user", "free_roam")) == [(learner.pk, False)]
    assert learner_client.get(SECOND).status_code == 403


# --- instructors ----------------------------------------------------------------------------------


def test_an_instructor_opens_every_stage_lesson_and_quiz_without_completing_any(
    client: Client, learner: User, linked_course: Path
) -> None:
    instructor = _instructor(learner)
    client.force_login(instructor)
    node = Node.objects.get(slug="second")
    question = Question.objects.create(
        node=node, qid="second-tf", kind="true_false", prompt="p", explanation="e", answer={"value": True}
    )
    for url in (SECOND, reverse("lessons:lesson", args=["second", "intro"]), reverse("lessons:quiz", args=["second"])):
        assert client.get(url).status_code == 200, url
    assert client.post(reverse("lessons:lesson_read", args=["second", "intro"]), **HTMX).status_code == 200
    started = client.post(reverse("lessons:quiz_start", args=["second"]))
    attempt = QuizAttempt.objects.get(user=instructor, node=node)
    assert started.url == reverse("lessons:attempt", args=[attempt.pk])
    answer = client.post(reverse("lessons:answer", args=[attempt.pk, question.pk]), {"value": "false"}, **HTMX)
    assert answer.status_code == 200
    html = client.get(reverse("lessons:map")).content.decode()
    assert "map-node--locked" not in html
    assert "map-node--completed" not in html
    assert "locked-link" not in client.get(FIRST_LESSON).content.decode()
    assert not NodeProgress.objects.filter(completed_at__isnull=False).exists()


# --- one refusal for a locked stage ---------------------------------------------------------------


def test_quiz_refusals_are_the_shared_refusal_with_their_statuses() -> None:
    assert issubclass(attempts.AttemptRefused, Refused)
    assert issubclass(grading.InvalidAnswer, Refused)
    assert issubclass(NodeLocked, Refused)
    refusal = attempts.AttemptRefused("Twice.", status=409)
    assert (refusal.message, refusal.status) == ("Twice.", 409)
    assert grading.InvalidAnswer("Not offered.").status == 400


@pytest.mark.parametrize(
    "url",
    [SECOND, reverse("lessons:lesson", args=["second", "intro"]), reverse("lessons:quiz", args=["second"])],
)
def test_a_locked_stage_answers_a_person_a_fragment_and_a_machine_from_one_place(
    learner_client: Client, course: object, url: str
) -> None:
    page = learner_client.get(url)
    assert page.status_code == 403
    assert "Turn on free roam and open this stage" in page.content.decode()
    fragment = learner_client.get(url, **HTMX)
    assert fragment.status_code == 403
    assert (
        fragment.content.decode().strip() == '<p class="form-errors" role="alert">Complete “The first node” first.</p>'
    )
    machine = learner_client.get(url, HTTP_ACCEPT="application/json")
    assert machine.status_code == 403
    assert machine.json() == {"error": "Complete “The first node” first.", "status": 403}


def test_a_question_outside_the_attempt_is_refused_by_the_shared_refusal(
    learner_client: Client, course: object
) -> None:
    attempt = attempts.attempt_start_node(user=User.objects.get(username="ada"), node=Node.objects.get(slug="first"))
    card = Question.objects.get(qid="first-explain")
    response = learner_client.get(reverse("lessons:reveal", args=[attempt.pk, card.pk]), **HTMX)
    assert response.status_code == 400
    assert "That question is not part of this attempt." in response.content.decode()
