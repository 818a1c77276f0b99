"""Progress through the course: the map's counts, the course-complete page, challenges that stay met once met,
and pages that only read."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lessons import attempts
from lessons.challenges import ChallengeStatus, registered
from lessons.models import Node, NodeProgress, Question, QuizAttempt
from lessons.selectors import CourseProgress
from lessons.services import lesson_mark_read
from tests.unit.test_quizzes import _querydict, _right_answer

COMPLETE = reverse("lessons:course_complete")
FIRST = reverse("lessons:node", args=["first"])


@pytest.fixture
def first_check() -> Iterator[dict]:
    """The first node's challenge: two steps whose answers the test sets; unregistered afterwards."""
    state = {"made": False, "compared": False}

    def check(user: User) -> ChallengeStatus:
        return ChallengeStatus(
            title="Compare three runs",
            steps=[("Make three runs", state["made"]), ("Compare three runs side by side", state["compared"])],
        )

    with registered("test.first", check):
        yield state


def _pass_quiz(user: User, node: Node) -> QuizAttempt:
    attempt = attempts.attempt_start_node(user=user, node=node)
    for question in Question.objects.filter(pk__in=attempt.question_ids):
        attempts.answer_submit(attempt=attempt, question=question, data=_right(attempt, question))
    attempt.refresh_from_db()
    assert attempt.passed
    return attempt


def _right(attempt: QuizAttempt, question: Question) -> QueryDict:
    return _querydict(_right_answer(attempt, question))


def _complete_everything(user: User, when: datetime) -> None:
    for node in Node.objects.all():
        NodeProgress.objects.update_or_create(
            user=user, node=node, defaults={"quiz_passed_at": when, "challenge_met_at": when, "completed_at": when}
        )


# --- the numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "percent"),
    [
        (CourseProgress(stages_total=10, stages_completed=0, lessons_total=40, lessons_read=0), 0),
        (CourseProgress(stages_total=10, stages_completed=0, lessons_total=40, lessons_read=40), 50),
        (CourseProgress(stages_total=10, stages_completed=5, lessons_total=40, lessons_read=20), 50),
        (CourseProgress(stages_total=10, stages_completed=10, lessons_total=40, lessons_read=39), 98),
        (CourseProgress(stages_total=10, stages_completed=9, lessons_total=40, lessons_read=40), 95),
        (CourseProgress(stages_total=3, stages_completed=3, lessons_total=0, lessons_read=0), 100),
        (CourseProgress(stages_total=0, stages_completed=0, lessons_total=0, lessons_read=0), 0),
    ],
)
def test_the_course_percent_gives_reading_and_stages_half_each_and_100_only_for_all(
    progress: CourseProgress, percent: int
) -> None:
    assert progress.percent == percent


def test_the_course_is_complete_only_when_every_stage_is() -> None:
    assert CourseProgress(stages_total=2, stages_completed=2, lessons_total=5, lessons_read=0).complete
    assert not CourseProgress(stages_total=2, stages_completed=1, lessons_total=5, lessons_read=5).complete
    assert not CourseProgress(stages_total=0, stages_completed=0, lessons_total=0, lessons_read=0).complete


@pytest.mark.django_db
def test_the_map_counts_stages_and_lessons_and_says_what_the_bar_counts(
    learner_client: Client, learner: User, course: object
) -> None:
    first = Node.objects.get(slug="first")
    lesson_mark_read(user=learner, lesson=first.lessons.get())
    NodeProgress.objects.filter(user=learner, node=first).update(completed_at=timezone.now())
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert "<strong>1 of 2</strong> stages completed" in html
    assert "<strong>1 of 2</strong> lessons read" in html
    assert '<progress max="100" value="50"' in html
    assert "lessons read count for half, completed stages (quiz passed and challenge met) for the other half" in html
    assert COMPLETE not in html


@pytest.mark.django_db
def test_a_finished_course_is_marked_on_the_map_with_a_link_to_what_was_done(
    learner_client: Client, learner: User, course: object
) -> None:
    _complete_everything(learner, timezone.now())
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert "You have completed every stage of the course." in html
    assert f'<a href="{COMPLETE}">See what you did</a>' in html


# --- the course-complete page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_before_the_end_the_course_page_says_what_is_left(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    first_check["made"] = True
    response = learner_client.get(COMPLETE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Your course so far</h1>" in html
    assert "What is left" in html
    assert "pass its quiz and meet its challenge (1 of 2 steps done)." in html
    assert "<strong>The second node</strong>: locked. Complete “The first node” first." in html


@pytest.mark.django_db
def test_a_learner_who_completed_every_stage_sees_what_they_did(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    first = Node.objects.get(slug="first")
    lesson_mark_read(user=learner, lesson=first.lessons.get())
    failed = attempts.attempt_start_node(user=learner, node=first)
    attempts.attempt_finish(attempt=failed)
    _pass_quiz(learner, first)
    session = attempts.attempt_start_interview(user=learner, stages=[first], minutes=10)
    single = Question.objects.get(qid="first-single")  # every question of the stage is in the pool
    attempts.answer_submit(attempt=session, question=single, data=_right(session, single))
    attempts.attempt_finish(attempt=session)
    _complete_everything(learner, datetime(2026, 3, 14, 9, 0, tzinfo=UTC))

    html = learner_client.get(COMPLETE).content.decode()
    assert "<h1>Course complete</h1>" in html
    assert "What is left" not in html
    assert html.count('<time datetime="2026-03-14T09:00:00+00:00">14 Mar 2026</time>') == 2
    assert "<strong>1 of 2</strong> lessons read" in html
    assert "<strong>2</strong> quiz attempts" in html
    assert "<td>2</td>\n        <td>100%</td>" in html
    assert "Compare three runs: 2 of 2 steps met" in html  # met once, so met for good
    assert "none: the quiz alone completes it" in html
    node_page = learner_client.get(reverse("lessons:node", args=["second"])).content.decode()
    assert "This stage has no sandbox challenge: passing its quiz completes it." in node_page
    assert "<strong>1</strong> interview session, best score 100%" in html


@pytest.mark.django_db
def test_the_course_page_needs_a_login(client: Client) -> None:
    assert client.get(COMPLETE).status_code == 302


# --- a challenge met once stays met -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_challenge_met_before_the_quiz_stays_met_when_the_check_later_says_no(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    first = Node.objects.get(slug="first")
    first_check.update(made=True, compared=True)
    assert attempts.progress_refresh(user=learner) == []  # met, but the quiz is not passed yet
    met_at = NodeProgress.objects.get(user=learner, node=first).challenge_met_at
    assert met_at is not None
    first_check["compared"] = False  # comparing two runs after three
    attempts.progress_refresh(user=learner)
    assert NodeProgress.objects.get(user=learner, node=first).challenge_met_at == met_at

    html = learner_client.get(FIRST).content.decode()
    assert '<li class="done">Compare three runs side by side <span class="visually-hidden">(done)</span></li>' in html
    assert "Go to the sandbox" not in html

    _pass_quiz(learner, first)
    progress = NodeProgress.objects.get(user=learner, node=first)
    assert progress.completed_at is not None
    assert progress.challenge_met_at == met_at


@pytest.mark.django_db
def test_a_check_that_was_never_met_at_a_refresh_is_not_recorded(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    first_check["made"] = True
    attempts.progress_refresh(user=learner)
    assert not NodeProgress.objects.exists()
    _pass_quiz(learner, Node.objects.get(slug="first"))
    progress = NodeProgress.objects.get(user=learner)
    assert (progress.challenge_met_at, progress.completed_at) == (None, None)
    assert '<li class="">Compare three runs side by side' in learner_client.get(FIRST).content.decode()


@pytest.mark.django_db
def test_two_refreshes_keep_the_first_moment_the_challenge_was_met(
    learner: User, course: object, first_check: dict
) -> None:
    first_check.update(made=True, compared=True)
    attempts.progress_refresh(user=learner)
    first = NodeProgress.objects.get(user=learner).challenge_met_at
    attempts.progress_refresh(user=learner, nodes=[Node.objects.get(slug="first")])
    assert NodeProgress.objects.get(user=learner).challenge_met_at == first


# --- pages only read ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_opening_a_stage_or_its_quiz_changes_no_progress(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    first = Node.objects.get(slug="first")
    _pass_quiz(learner, first)
    first_check.update(made=True, compared=True)  # met now, but no event has refreshed progress yet
    before = list(NodeProgress.objects.values())
    for url in (FIRST, reverse("lessons:quiz", args=["first"]), reverse("lessons:map"), COMPLETE):
        assert learner_client.get(url).status_code == 200, url
    assert list(NodeProgress.objects.values()) == before
    assert attempts.progress_refresh(user=learner) == [first]


@pytest.mark.django_db
def test_an_expired_session_reads_as_over_without_a_write(
    learner_client: Client, learner: User, course: object
) -> None:
    first = Node.objects.get(slug="first")
    session = attempts.attempt_start_interview(user=learner, stages=[first], minutes=10)
    question = Question.objects.get(pk=session.question_ids[0])
    if question.kind == Question.Kind.EXPLAIN:
        attempts.answer_submit(attempt=session, question=question, data=QueryDict("rating=3"))
    else:
        attempts.answer_submit(attempt=session, question=question, data=_right(session, question))
    QuizAttempt.objects.filter(pk=session.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    html = learner_client.get(reverse("lessons:attempt", args=[session.pk])).content.decode()
    assert "Session over" in html
    assert 'class="question card"' not in html
    session.refresh_from_db()
    assert session.finished_at is None
    interview = learner_client.get(reverse("lessons:interview")).content.decode()
    assert "Continue it" not in interview
