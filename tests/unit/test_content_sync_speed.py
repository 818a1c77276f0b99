"""Content sync renders only what changed: unchanged content writes nothing, any real change is still synced.

Renderings are kept by the digest of their source, their context (a lesson's glossary and link
targets) and the renderer, so these tests count how many fragments a sync renders and what it writes.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lessons import rendering
from lessons.content_files import ContentError
from lessons.models import Choice, FaqEntry, Lesson, Question, RenderedMarkdown
from lessons.rendering import render_markdown
from lessons.services import content_sync
from tests.content_tree import write_content_tree, write_questions

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = write_content_tree(tmp_path)
    write_questions(root)
    return root


@pytest.fixture
def renderer_version() -> Iterator[None]:
    """Undo a test's change to the renderer's version, and forget the digest computed from it."""
    version = rendering.RENDERER_VERSION
    yield
    rendering.RENDERER_VERSION = version
    rendering.renderer_digest.cache_clear()


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


def _fragments() -> set[str]:
    """Every distinct non-empty Markdown source the sync renders: lessons (by node) and plain fragments."""
    plain = {FaqEntry.objects.get().answer_source}
    for question in Question.objects.all():
        plain |= {question.prompt, question.explanation, question.model_answer}
    for choice in Choice.objects.all():
        plain |= {choice.text, choice.feedback}
    lessons = {f"{lesson.node.slug}/{lesson.slug}" for lesson in Lesson.objects.select_related("node")}
    return (plain - {""}) | lessons


def test_an_unchanged_second_sync_renders_nothing_writes_nothing_and_says_so(content: Path) -> None:
    first = content_sync(root=content)
    assert first.rendered == len(_fragments())
    with CaptureQueriesContext(connection) as queries:
        second = content_sync(root=content)
    assert second.rendered == 0
    assert not second.changed
    assert str(second) == "Content is up to date: nothing changed."
    assert _writes(queries) == []


def test_stored_renderings_are_what_rendering_now_gives(content: Path) -> None:
    content_sync(root=content)
    content_sync(root=content)
    for question in Question.objects.all():
        assert question.prompt_html == render_markdown(question.prompt).html
        assert question.explanation_html == render_markdown(question.explanation).html
    for choice in Choice.objects.all():
        assert choice.text_html == render_markdown(choice.text).html
    entry = FaqEntry.objects.get()
    assert entry.answer_html == render_markdown(entry.answer_source).html
    lesson = Lesson.objects.get(node__slug="second")
    assert 'href="/map/first/intro/"' in lesson.html
    assert 'data-term="data-drift"' in lesson.html
    assert lesson.toc == [{"level": 2, "id": "a-section", "text": "A section"}]


def test_an_edited_prompt_is_rendered_and_saved_alone(content: Path) -> None:
    content_sync(root=content)
    path = content / "01-first" / "questions.yaml"
    path.write_text(path.read_text().replace("What is 0.1 + 0.15?", "What is *0.1 + 0.15*?"))
    report = content_sync(root=content)
    assert report.rendered == 1
    assert report.updated == {"questions": 1}
    assert Question.objects.get(qid="first-numeric").prompt_html == "<p>What is <em>0.1 + 0.15</em>?</p>\n"


def test_an_edited_lesson_file_is_rendered_again(content: Path) -> None:
    content_sync(root=content)
    path = content / "01-first" / "01-intro.md"
    path.write_text(path.read_text().replace("## A section", "## A renamed section"))
    report = content_sync(root=content)
    assert report.rendered == 1
    assert report.updated == {"lessons": 1}
    assert Lesson.objects.get(node__slug="first").toc[0]["text"] == "A renamed section"


def test_a_new_glossary_term_links_into_lessons_whose_files_did_not_change(content: Path) -> None:
    content_sync(root=content)
    with (content / "glossary.yaml").open("a") as glossary:
        glossary.write("- term: body\n  slug: body\n  definition: The text of a lesson.\n")
    report = content_sync(root=content)
    assert report.updated == {"lessons": 2}
    assert report.created == {"glossary terms": 1}
    for lesson in Lesson.objects.all():
        assert lesson.glossary_terms == ["body", "data-drift"]
        assert 'data-term="body"' in lesson.html


def test_a_removed_link_target_still_refuses_a_lesson_whose_file_did_not_change(content: Path) -> None:
    content_sync(root=content)
    # The second node's lesson links to lesson:first/intro; give that lesson another slug.
    path = content / "01-first" / "01-intro.md"
    path.write_text(path.read_text().replace("slug: intro", "slug: welcome").replace("first/intro", "first/welcome"))
    with pytest.raises(ContentError) as error:
        content_sync(root=content)
    assert [str(p) for p in error.value.problems] == [
        "lessons/content/02-second/01-intro.md:11: link to 'lesson:first/intro', which does not exist"
    ]
    assert Lesson.objects.filter(node__slug="first", slug="intro").exists()


def test_a_new_renderer_renders_everything_again_and_keeps_only_what_is_used(
    content: Path, renderer_version: None
) -> None:
    first = content_sync(root=content)
    before = set(RenderedMarkdown.objects.values_list("digest", flat=True))
    assert len(before) == first.rendered
    rendering.RENDERER_VERSION += 1
    rendering.renderer_digest.cache_clear()
    again = content_sync(root=content)
    assert again.rendered == first.rendered
    assert not again.changed  # the same HTML: nothing a learner sees is written again
    after = set(RenderedMarkdown.objects.values_list("digest", flat=True))
    assert len(after) == first.rendered
    assert not before & after


def test_renderings_no_longer_used_are_removed(content: Path) -> None:
    content_sync(root=content)
    write_questions(content, text="")
    (content / "01-first" / "questions.yaml").unlink()
    report = content_sync(root=content)
    assert report.removed == {"questions": 6}
    assert RenderedMarkdown.objects.count() == len(_fragments())


def test_a_refused_sync_stores_no_rendering(content: Path) -> None:
    path = content / "02-second" / "01-intro.md"
    path.write_text(path.read_text().replace("lesson:first/intro", "lesson:first/outro"))
    with pytest.raises(ContentError):
        content_sync(root=content)
    assert not RenderedMarkdown.objects.exists()
