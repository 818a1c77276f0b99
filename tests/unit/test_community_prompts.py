"""Discussion prompts: the `::: prompt` container, their extraction on every lesson save, answering before reading
peers' answers, model answers and the instructors' cohort listing."""

from pathlib import Path

import pytest

from community.models import DiscussionPrompt, PromptAnswer
from community.prompts import RETIRED, prompts_extract
from lessons.models import Lesson
from lessons.rendering import discussion_prompts, render_markdown
from lessons.services import CONTENT_ROOT, content_sync, lesson_render
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
    assert len(stages_with_prompts) == 10


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
