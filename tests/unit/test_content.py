import re
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from lessons import content_files
from lessons.content_files import ContentError, read_content
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node
from lessons.services import CONTENT_ROOT, content_sync, lesson_render
from tests.content_tree import write_content_tree


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return write_content_tree(tmp_path)


def _problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as error:
        read_content(root)
    return [str(problem) for problem in error.value.problems]


def test_a_valid_tree_reads_into_nodes_lessons_glossary_and_faq(content: Path) -> None:
    loaded = read_content(content)
    assert [node.slug for node in loaded.nodes] == ["first", "second"]
    assert loaded.nodes[1].prerequisites == ["first"]
    assert loaded.nodes[0].lessons[0].body_line == 7
    assert loaded.glossary[0].aliases == ["covariate shift"]
    assert loaded.faq[0].question == "Is it free?"


def test_an_unknown_prerequisite_is_named_with_file_and_line(content: Path) -> None:
    path = content / "02-second" / "node.yaml"
    path.write_text(path.read_text().replace("[first]", "[firts]"))
    assert _problems(content) == ["lessons/content/02-second/node.yaml:4: unknown prerequisite 'firts'"]


def test_a_cycle_in_the_prerequisites_is_refused(content: Path) -> None:
    path = content / "01-first" / "node.yaml"
    path.write_text(path.read_text().replace("prerequisites: []", "prerequisites: [second]"))
    problems = _problems(content)
    assert len(problems) == 1
    assert re.fullmatch(r"lessons/content/0\d-\w+/node.yaml:4: prerequisites form a cycle: .*", problems[0])
    assert "first -> second -> first" in problems[0] or "second -> first -> second" in problems[0]


def test_a_duplicate_node_slug_is_refused(content: Path) -> None:
    path = content / "02-second" / "node.yaml"
    path.write_text(path.read_text().replace("slug: second", "slug: first").replace("[first]", "[]"))
    assert _problems(content) == [
        "lessons/content/02-second/node.yaml:1: duplicate node slug 'first', "
        "already used by lessons/content/01-first/node.yaml"
    ]


def test_a_duplicate_lesson_slug_in_a_node_is_refused(content: Path) -> None:
    shutil.copy(content / "01-first" / "01-intro.md", content / "01-first" / "02-again.md")
    assert _problems(content) == [
        "lessons/content/01-first/02-again.md:2: duplicate lesson slug 'intro', "
        "already used by lessons/content/01-first/01-intro.md"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter\n", "01-intro.md:1: front matter must start the file with a line of three dashes (---)"),
        ("---\ntitle: x\n", "01-intro.md:1: front matter is not closed by a line of three dashes (---)"),
        ("---\nslug: intro\ntitle: [unclosed\n---\nBody\n", "01-intro.md:3: malformed YAML"),
        ("---\nslug: intro\ntitle: Intro\n---\nBody\n", "01-intro.md:1: missing required key 'order'"),
        ("---\nslug: Intro Page\ntitle: T\norder: 1\n---\nB\n", "01-intro.md:2: slug 'Intro Page' must be lowercase"),
        ("---\nslug: intro\ntitle: T\norder: one\n---\nB\n", "01-intro.md:4: 'order' must be int, not str"),
        ("---\nslug: intro\ntitle: T\norder: 1\nstatus: live\n---\nB\n", "01-intro.md:5: status must be one of"),
        ("---\nslug: intro\ntitle: T\norder: 1\non: 2024-13-45\n---\nB\n", "01-intro.md:2: malformed YAML: month"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_malformed_front_matter_is_named_with_file_and_line(
    content: Path, text: str, problem: str, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loader == "python":
        monkeypatch.setattr(content_files, "YAML_LOADER", yaml.SafeLoader)
    (content / "01-first" / "01-intro.md").write_text(text)
    problems = _problems(content)
    assert any(p.startswith("lessons/content/01-first/" + problem) for p in problems), problems


def test_content_is_parsed_by_libyaml_when_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__, "PyYAML was built without libyaml: content loads several times slower"
    assert content_files.YAML_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- term: [unclosed\n", "glossary.yaml:1: malformed YAML"),
        ("- term: Drift\n  slug: drift\n  definition: 'open\n", "glossary.yaml:3: malformed YAML"),
        ("- term: Drift\n  slug: drift\n   definition: x\n", "glossary.yaml:3: malformed YAML"),
        ("term: Drift\n", "glossary.yaml:1: glossary.yaml must be a list of terms"),
        ("- term: Drift\n- just text\n", "glossary.yaml:2: each entry of glossary.yaml must be a mapping"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_a_malformed_list_file_is_named_with_its_line_by_either_parser(
    content: Path, text: str, problem: str, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loader == "python":
        monkeypatch.setattr(content_files, "YAML_LOADER", yaml.SafeLoader)
    (content / "glossary.yaml").write_text(text)
    problems = _problems(content)
    assert any(p.startswith("lessons/content/" + problem) for p in problems), problems


def test_a_glossary_phrase_used_twice_is_refused(content: Path) -> None:
    with (content / "glossary.yaml").open("a") as glossary:
        glossary.write("- term: Covariate shift\n  slug: covariate-shift\n  definition: Same thing.\n")
    assert _problems(content) == [
        "lessons/content/glossary.yaml:5: duplicate 'phrase covariate shift', already used on line 1"
    ]


@pytest.mark.django_db
def test_a_link_to_a_missing_lesson_fails_the_sync_and_writes_nothing(content: Path) -> None:
    path = content / "02-second" / "01-intro.md"
    path.write_text(path.read_text().replace("lesson:first/intro", "lesson:first/outro"))
    with pytest.raises(ContentError) as error:
        content_sync(root=content)
    assert [str(p) for p in error.value.problems] == [
        "lessons/content/02-second/01-intro.md:11: link to 'lesson:first/outro', which does not exist"
    ]
    assert not Node.objects.exists()
    assert not GlossaryTerm.objects.exists()


@pytest.mark.django_db
def test_the_sync_is_idempotent(content: Path) -> None:
    first = content_sync(root=content)
    assert first.created == {"FAQ entries": 1, "glossary terms": 1, "lessons": 2, "nodes": 2}
    second = content_sync(root=content)
    assert not second.changed
    assert str(second) == "Content is up to date: nothing changed."
    second_node = Node.objects.get(slug="second")
    assert list(second_node.prerequisites.values_list("slug", flat=True)) == ["first"]
    lesson = Lesson.objects.get(node__slug="second")
    assert 'href="/map/first/intro/"' in lesson.html
    assert 'data-term="data-drift"' in lesson.html
    assert FaqEntry.objects.get().answer_html == "<p>Yes, <strong>free</strong>.</p>\n"


@pytest.mark.django_db
def test_a_changed_file_updates_only_its_lesson_and_a_removed_one_is_deleted(content: Path) -> None:
    content_sync(root=content)
    path = content / "01-first" / "01-intro.md"
    path.write_text(path.read_text().replace("Body of", "New body of"))
    report = content_sync(root=content)
    assert report.updated == {"lessons": 1}
    assert "New body of" in Lesson.objects.get(node__slug="first").html
    (content / "02-second" / "01-intro.md").unlink()
    assert content_sync(root=content).removed == {"lessons": 1}


@pytest.mark.django_db
def test_an_edit_survives_a_sync_and_a_file_changed_as_well_is_a_conflict_not_an_overwrite(content: Path) -> None:
    from studio.models import ContentConflict

    content_sync(root=content)
    lesson = Lesson.objects.get(node__slug="first")
    lesson.source = "Edited in the admin."
    lesson_render(lesson=lesson)
    lesson.save()
    assert not content_sync(root=content).changed
    assert "Edited in the admin." in Lesson.objects.get(pk=lesson.pk).html
    path = content / "01-first" / "01-intro.md"
    path.write_text(path.read_text() + "\nMore.\n")
    report = content_sync(root=content)
    assert "Edited in the admin." in Lesson.objects.get(pk=lesson.pk).html
    assert "lesson first/intro (" in str(report)
    assert "both versions are kept" in str(report)
    conflict = ContentConflict.objects.get(kind="lesson", key="first/intro", resolved_at=None)
    assert conflict.file_text.rstrip().endswith("More.")
    # The same file again reports the same conflict, once.
    content_sync(root=content)
    assert ContentConflict.objects.count() == 1


@pytest.mark.django_db
def test_the_command_reports_errors_and_changes_nothing(content: Path) -> None:
    (content / "01-first" / "01-intro.md").write_text("no front matter\n")
    with pytest.raises(CommandError, match=r"(?s)nothing was changed.*01-intro.md:1: front matter"):
        call_command("sync_content", root=content)
    assert not Lesson.objects.exists()


def test_the_course_meets_its_own_bar() -> None:
    course = read_content(CONTENT_ROOT)
    assert len(course.nodes) == 11
    assert len(course.glossary) >= 40
    assert course.faq
    lessons = [lesson for node in course.nodes for lesson in node.lessons]
    assert len(lessons) >= 25
    for node in course.nodes:
        assert len(node.lessons) >= 2, node.slug
        assert node.challenge_key, node.slug
    for lesson in lessons:
        words = len(lesson.body.split())
        assert 600 <= words <= 1500, (lesson.path, words)
        assert "```" in lesson.body, lesson.path
        assert "::: interview" in lesson.body, lesson.path
