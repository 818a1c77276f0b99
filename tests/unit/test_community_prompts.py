"""Discussion prompts: the `::: prompt` container, their extraction on every lesson save, answering before reading
peers' answers, model answers and the instructors' cohort listing."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohorts.models import Cohort, CohortMembership
from community.models import BODY_MAX, DiscussionPrompt, PromptAnswer
from community.prompts import (
    ANSWERS_PER_HOUR,
    PEERS_SHOWN,
    RETIRED,
    prompt_answer_moderate,
    prompt_answer_save,
    prompt_state,
    prompts_extract,
)
from lessons.models import Lesson
from lessons.rendering import discussion_prompts, render_markdown
from lessons.services import CONTENT_ROOT, content_sync, lesson_render
from mlopslab.refusals import Refused
from tests.content_tree import write_content_tree

PROMPTS = """
::: prompt missing-principles
What MLOps principles are missing from this workflow? How would you **improve** it?
:::

::: prompt your-team
How does *your* team version its data?
:::
"""


def _add_prompts(root: Path, text: str = PROMPTS) -> Path:
    path = root / "01-first" / "01-intro.md"
    path.write_text(path.read_text() + text)
    return path


@pytest.fixture
def tree(tmp_path: Path, db: None) -> Path:
    root = write_content_tree(tmp_path)
    _add_prompts(root)
    content_sync(root=root)
    return root


# --- the renderer ----------------------------------------------------------------------------------------------


def test_a_prompt_renders_as_a_discuss_section_with_its_slug() -> None:
    html = render_markdown(PROMPTS).html
    assert '<section class="discussion-prompt" id="prompt-missing-principles">\n<h2>Discuss</h2>' in html
    assert "<strong>improve</strong>" in html
    assert html.count("<section") == 2


def test_a_script_or_handler_in_a_prompt_does_not_survive() -> None:
    html = render_markdown('::: prompt x\n<script>alert(1)</script> <img src=x onerror="alert(2)">\n:::\n').html
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_bad_and_repeated_slugs_are_problems_by_line_and_get_no_id() -> None:
    source = "Intro\n\n::: prompt ok\nA\n:::\n\n::: prompt ok\nB\n:::\n\n"
    source += "::: prompt Bad_Slug\nC\n:::\n\n::: prompt\nD\n:::\n"
    rendered = render_markdown(source, line_offset=5)
    assert [p.slug for p in rendered.prompts] == ["ok"]
    assert [line for line, _ in rendered.prompt_problems] == [12, 16, 20]
    assert "used twice" in rendered.prompt_problems[0][1]
    assert rendered.html.count('id="prompt-ok"') == 1
    assert rendered.html.count('class="discussion-prompt"') == 4


def test_a_prompt_in_a_code_fence_is_no_prompt_and_prompts_keep_their_markdown() -> None:
    source = "```\n::: prompt in-code\n```\n" + PROMPTS
    blocks = discussion_prompts(source)
    assert [b.slug for b in blocks] == ["missing-principles", "your-team"]
    assert blocks[1].text == "How does *your* team version its data?"


def test_every_lesson_of_the_course_has_good_prompts_and_each_stage_at_least_one() -> None:
    stages_with_prompts, problems = set(), []
    for path in sorted(CONTENT_ROOT.glob("*/*.md")):
        rendered = render_markdown(path.read_text())
        problems += [f"{path.name}:{line}: {problem}" for line, problem in rendered.prompt_problems]
        if rendered.prompts:
            stages_with_prompts.add(path.parent.name)
    assert problems == []
    assert len(stages_with_prompts) == 11


# --- extraction ------------------------------------------------------------------------------------------------


def test_content_sync_loads_a_lessons_prompts_in_order(tree: Path) -> None:
    prompts = list(DiscussionPrompt.objects.filter(lesson__node__slug="first").order_by("order"))
    assert [(p.slug, p.order) for p in prompts] == [("missing-principles", 1), ("your-team", 2)]
    assert prompts[0].text_html == (
        "<p>What MLOps principles are missing from this workflow? How would you <strong>improve</strong> it?</p>\n"
    )
    assert not DiscussionPrompt.objects.filter(lesson__node__slug="second").exists()


def test_an_unchanged_prompt_set_writes_nothing(tree: Path, django_assert_num_queries: object) -> None:
    lesson = Lesson.objects.get(node__slug="first")
    with django_assert_num_queries(1):
        assert prompts_extract(lesson=lesson) is False


def test_a_changed_prompt_is_updated_and_a_removed_one_deleted_unless_answered(tree: Path, learner: object) -> None:
    lesson = Lesson.objects.get(node__slug="first")
    answered = DiscussionPrompt.objects.get(slug="your-team")
    PromptAnswer.objects.create(prompt=answered, author=learner, body="We hash.", body_html="<p>We hash.</p>")
    path = tree / "01-first" / "01-intro.md"
    path.write_text(path.read_text().replace(PROMPTS, "\n::: prompt new-one\nWhat *else*?\n:::\n"))
    content_sync(root=tree)
    rows = {p.slug: p for p in DiscussionPrompt.objects.filter(lesson=lesson)}
    assert set(rows) == {"new-one", "your-team"}
    assert rows["your-team"].order == RETIRED
    assert rows["new-one"].text_html == "<p>What <em>else</em>?</p>\n"
    assert PromptAnswer.objects.filter(prompt=answered).exists()


def test_the_studio_save_path_extracts_prompts(tree: Path) -> None:
    lesson = Lesson.objects.get(node__slug="second")
    lesson.source += "\n::: prompt studio-made\nAsked in the *studio*.\n:::\n"
    lesson_render(lesson=lesson)
    lesson.save()
    prompt = DiscussionPrompt.objects.get(lesson=lesson)
    assert prompt.slug == "studio-made"
    assert 'id="prompt-studio-made"' in lesson.html


# --- the lesson page -------------------------------------------------------------------------------------------

PEER_TEXT = "Peers write about lineage here"


def _lesson_url() -> str:
    return reverse("lessons:lesson", args=["first", "intro"])


def _prompt(slug: str = "missing-principles") -> DiscussionPrompt:
    return DiscussionPrompt.objects.get(slug=slug)


def _answer(prompt: DiscussionPrompt, author: object, body: str = PEER_TEXT, **fields: object) -> PromptAnswer:
    return PromptAnswer.objects.create(prompt=prompt, author=author, body=body, body_html=f"<p>{body}</p>", **fields)


def _post(client: Client, prompt: DiscussionPrompt, body: str, htmx: bool = False, **fields: str) -> HttpResponse:
    url = reverse("community:prompt_answer", kwargs={"prompt_id": prompt.pk})
    return client.post(url, {"body": body, **fields}, headers={"HX-Request": "true"} if htmx else {})


def test_before_answering_the_page_has_the_form_and_no_peer_answer(
    tree: Path, learner_client: Client, other_learner: object
) -> None:
    _answer(_prompt(), other_learner)
    html = learner_client.get(_lesson_url()).content.decode()
    assert "Your peers' answers appear once you have written yours" in html
    assert "Share my answer" in html
    assert 'id="prompt-missing-principles"' in html  # the Discuss block in the prose
    assert PEER_TEXT not in html
    fragment = learner_client.get(
        reverse("community:prompt", kwargs={"prompt_id": _prompt().pk}), headers={"HX-Request": "true"}
    )
    assert PEER_TEXT not in fragment.content.decode()
    page = learner_client.get(reverse("community:prompt", kwargs={"prompt_id": _prompt().pk}))
    assert PEER_TEXT not in page.content.decode()


def test_after_answering_without_javascript_the_lesson_shows_own_and_peers_answers(
    tree: Path, learner_client: Client, other_learner: object
) -> None:
    _answer(_prompt(), other_learner)
    response = _post(learner_client, _prompt(), "We would add **monitoring** <script>alert(1)</script>")
    assert response.status_code == 302
    assert response["Location"] == f"{_lesson_url()}#prompt-card-{_prompt().pk}"
    html = learner_client.get(_lesson_url()).content.decode()
    assert PEER_TEXT in html
    assert "<strong>monitoring</strong>" in html
    assert "<script>alert(1)" not in html
    assert "Edit your answer" in html


def test_an_htmx_answer_swaps_in_the_peers_answers(tree: Path, learner_client: Client, other_learner: object) -> None:
    _answer(_prompt(), other_learner)
    response = _post(learner_client, _prompt(), "Monitoring.", htmx=True)
    assert response.status_code == 200
    assert PEER_TEXT in response.content.decode()
    assert "Your answer is shared." in response.content.decode()


def test_one_answer_per_learner_a_second_post_edits_it(tree: Path, learner: object, learner_client: Client) -> None:
    _post(learner_client, _prompt(), "First.")
    _post(learner_client, _prompt(), "Second thoughts.")
    answer = PromptAnswer.objects.get(prompt=_prompt(), author=learner)
    assert answer.body == "Second thoughts."
    assert answer.edited_at is not None


@pytest.mark.parametrize(
    ("body", "message"), [("   ", "it is empty"), ("x" * (BODY_MAX + 1), "an answer may have at most 20,000")]
)
def test_an_empty_or_too_long_answer_is_refused_with_its_message(
    tree: Path, learner_client: Client, body: str, message: str
) -> None:
    for htmx in (False, True):
        response = _post(learner_client, _prompt(), body, htmx=htmx)
        assert response.status_code == 422
        assert message in response.content.decode()
    assert not PromptAnswer.objects.exists()


def test_past_ten_answers_an_hour_the_learner_is_told_when_to_write_again(
    tree: Path, learner: object, learner_client: Client
) -> None:
    lesson = Lesson.objects.get(node__slug="first")
    for number in range(ANSWERS_PER_HOUR):
        extra = DiscussionPrompt.objects.create(lesson=lesson, slug=f"extra-{number}", order=RETIRED, text="x")
        _answer(extra, learner)
    response = _post(learner_client, _prompt(), "One more.", htmx=True)
    assert response.status_code == 429
    assert "You can write again at" in response.content.decode()
    assert not PromptAnswer.objects.filter(prompt=_prompt()).exists()


def test_hidden_answers_are_left_out_for_peers(
    tree: Path, learner: object, learner_client: Client, other_learner: object
) -> None:
    _answer(_prompt(), other_learner, hidden_at=timezone.now())
    _answer(_prompt(), learner, body="Mine.")
    html = learner_client.get(_lesson_url()).content.decode()
    assert PEER_TEXT not in html
    assert "Your peers' answers (0)" in html


def test_peers_beyond_the_first_ten_are_behind_show_more_and_pages(
    tree: Path, learner: object, learner_client: Client, django_user_model: type
) -> None:
    prompt = _prompt()
    for number in range(PEERS_SHOWN + 2):
        _answer(prompt, django_user_model.objects.create(username=f"peer{number}"), body=f"Peer answer {number}.")
    _answer(prompt, learner, body="Mine.")
    html = learner_client.get(_lesson_url()).content.decode()
    assert "Peer answer 11." in html  # newest first
    assert "Peer answer 0." not in html
    assert "Show 2 more answers" in html
    page = learner_client.get(reverse("community:prompt", kwargs={"prompt_id": prompt.pk})).content.decode()
    assert "Peer answer 0." in page


# --- instructors -----------------------------------------------------------------------------------------------


@pytest.fixture
def teacher(django_user_model: type, instructors: object) -> object:
    user = django_user_model.objects.create_user(username="tess", first_name="Tess")
    user.groups.add(instructors)
    return user


def test_an_instructor_reads_peers_without_answering_and_marks_a_model_answer(
    tree: Path, client: Client, teacher: object, learner: object, other_learner: object
) -> None:
    _answer(_prompt(), other_learner)
    client.force_login(teacher)
    html = client.get(_lesson_url()).content.decode()
    assert PEER_TEXT in html
    assert "Your cohorts' answers to this prompt" in html
    _post(client, _prompt(), "The **model** view.", model="on")
    assert PromptAnswer.objects.get(author=teacher).is_model
    client.force_login(learner)
    _post(client, _prompt(), "Mine.")
    html = client.get(_lesson_url()).content.decode()
    assert "The instructor's model answer" in html
    assert "The <strong>model</strong> view." in html


def test_marking_another_model_answer_unmarks_the_first(
    tree: Path, teacher: object, django_user_model: type, instructors: object
) -> None:
    second = django_user_model.objects.create_user(username="ivan")
    second.groups.add(instructors)
    prompt_answer_save(prompt=_prompt(), author=teacher, body="One.", model=True)
    prompt_answer_save(prompt=_prompt(), author=second, body="Two.", model=True)
    assert list(PromptAnswer.objects.filter(is_model=True).values_list("author__username", flat=True)) == ["ivan"]


def test_a_learner_cannot_mark_a_model_answer(tree: Path, learner: object, learner_client: Client) -> None:
    _post(learner_client, _prompt(), "Mine.", model="on")
    assert not PromptAnswer.objects.get(author=learner).is_model
    with pytest.raises(Refused):
        prompt_answer_save(prompt=_prompt(), author=learner, body="Mine.", model=True)


def test_the_cohort_listing_shows_only_the_instructors_own_cohorts_learners(
    tree: Path, client: Client, teacher: object, learner: object, other_learner: object, django_user_model: type
) -> None:
    other_teacher = django_user_model.objects.create_user(username="otto")
    mine = Cohort.objects.create(name="Spring", instructor=teacher, invite_code="SPRING1")
    theirs = Cohort.objects.create(name="Autumn", instructor=other_teacher, invite_code="AUTUMN1")
    CohortMembership.objects.create(cohort=mine, learner=learner)
    CohortMembership.objects.create(cohort=theirs, learner=other_learner)
    _answer(_prompt(), learner, body="Ada's view.")
    _answer(_prompt(), other_learner, body="Grace's view.")
    url = reverse("community:prompt_cohort_answers", kwargs={"prompt_id": _prompt().pk})
    client.force_login(teacher)
    html = client.get(url).content.decode()
    assert "Ada's view." in html
    assert "Spring" in html
    assert "Grace" not in html
    client.force_login(learner)
    assert client.get(url).status_code == 403


def test_a_moderator_hides_a_prompt_answer_and_shows_it_again(
    tree: Path, learner: User, other_learner: User, instructors: Group
) -> None:
    prompt = _prompt()
    rude = prompt_answer_save(prompt=prompt, author=other_learner, body="Whoever wrote this is a fool.")
    prompt_answer_save(prompt=prompt, author=learner, body="Monitoring is missing from the workflow.")
    with pytest.raises(Refused) as refused:
        prompt_answer_moderate(answer_id=rude.pk, moderator=learner, hide=True)
    assert refused.value.status == 403
    moderator = User.objects.create_user(username="mod")
    moderator.groups.add(instructors)
    client = Client()
    client.force_login(moderator)
    client.post(reverse("community:prompt_answer_moderate", kwargs={"answer_id": rude.pk}), {"action": "hide"})
    assert "Whoever wrote this is a fool." not in [a.body for a in prompt_state(prompt=prompt, user=learner).peers]
    client.post(reverse("community:prompt_answer_moderate", kwargs={"answer_id": rude.pk}), {"action": "restore"})
    assert "Whoever wrote this is a fool." in [a.body for a in prompt_state(prompt=prompt, user=learner).peers]
