"""Saving content from the studio: checked as the files are, kept as revisions, refused when stale, restorable,
and never silently overwritten by `sync_content` (nor overwriting a file changed since)."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from lessons.content_files import read_content, read_text
from lessons.models import GlossaryTerm, Lesson, Node, Question
from lessons.services import CONTENT_ROOT, content_sync
from studio import item_data, items, revisions
from studio.models import ContentConflict, FileBase, Revision
from studio.roundtrip import file_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def instructor(django_user_model: type) -> User:
    return django_user_model.objects.create_user("teacher")


def _lesson() -> dict:
    return items.TYPES["lesson"].from_row(Lesson.objects.select_related("node").get(node__slug="first"))


def _newest(kind: str, key: str) -> int:
    return revisions.latest_revision(kind=kind, key=key).number


def test_every_item_of_the_course_reads_back_from_the_text_the_studio_would_export() -> None:
    content = read_content(CONTENT_ROOT)
    checked = 0
    for item in file_items(content):
        text = item_data.text_of(item.kind, item.data)
        found, problems = read_text(CONTENT_ROOT, CONTENT_ROOT.parent.parent / item.path, text)
        assert problems == [], (item.key, problems)
        assert len(found) == 1, item.key
        again = {
            "lesson": lambda f, i=item: item_data.lesson_data_from_file(i.data["node"], f),
            "question": lambda f, i=item: item_data.question_data_from_file(i.data["node"], f),
            "node": item_data.node_data_from_file,
            "term": item_data.term_data_from_file,
            "faq": lambda f, i=item: {**item_data.faq_data_from_file(f), "order": i.data["order"]},
        }[item.kind](found[0])
        assert again == item.data, item.key
        checked += 1
    assert checked > 300


def test_a_save_writes_the_lesson_and_keeps_a_revision_with_who_and_why(course: Path, instructor: User) -> None:
    data = _lesson()
    before = _newest("lesson", "first/intro")
    revision = revisions.item_save(
        kind="lesson", data={**data, "body": data["body"] + "\nA new paragraph.\n"}, author=instructor,
        message="Add a paragraph", base_number=before,
    )  # fmt: skip
    assert (revision.number, revision.author, revision.message) == (before + 1, instructor, "Add a paragraph")
    assert "A new paragraph." in revision.text
    assert "<p>A new paragraph.</p>" in Lesson.objects.get(node__slug="first").html


def test_a_broken_link_is_refused_by_its_line_and_nothing_is_saved(course: Path, instructor: User) -> None:
    data = _lesson()
    before = _newest("lesson", "first/intro")
    edited = {**data, "body": data["body"] + "\nSee [nowhere](lesson:first/nowhere) and [x](glossary:no-such).\n"}
    with pytest.raises(revisions.Invalid) as refused:
        revisions.item_save(kind="lesson", data=edited, author=instructor, base_number=before)
    line = item_data.lesson_text(edited).splitlines().index(edited["body"].splitlines()[-1]) + 1
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (line, "link to 'lesson:first/nowhere', which does not exist"),
        (line, "link to 'glossary:no-such', which does not exist"),
    ]
    assert refused.value.status == 422
    assert _newest("lesson", "first/intro") == before
    assert "nowhere" not in Lesson.objects.get(node__slug="first").source


def test_a_glossary_link_by_slug_leads_to_the_term(course: Path, instructor: User) -> None:
    data = _lesson()
    slug = GlossaryTerm.objects.get().slug
    edited = {**data, "body": data["body"] + f"\nRead [the definition](glossary:{slug}).\n"}
    revisions.item_save(kind="lesson", data=edited, author=instructor, base_number=_newest("lesson", "first/intro"))
    assert f'href="/glossary/#{slug}"' in Lesson.objects.get(node__slug="first").html


def test_a_save_begun_before_someone_elses_is_refused_with_the_diff(course: Path, instructor: User) -> None:
    data = _lesson()
    base = _newest("lesson", "first/intro")
    other = User.objects.create_user("colleague")
    revisions.item_save(kind="lesson", data={**data, "title": "Theirs"}, author=other, base_number=base)
    with pytest.raises(revisions.StaleEdit) as refused:
        revisions.item_save(kind="lesson", data={**data, "title": "Mine"}, author=instructor, base_number=base)
    assert refused.value.status == 409
    assert "colleague saved revision" in refused.value.message
    changed = [row for row in refused.value.rows if row.tag != "equal"]
    assert [(row.left, row.right) for row in changed] == [("title: Theirs", "title: Mine")]
    assert Lesson.objects.get(node__slug="first").title == "Theirs"


def test_an_old_revision_restores_as_a_new_one(course: Path, instructor: User) -> None:
    data = _lesson()
    first = _newest("lesson", "first/intro")
    revisions.item_save(kind="lesson", data={**data, "title": "Changed"}, author=instructor, base_number=first)
    restored = revisions.item_restore(
        kind="lesson", key="first/intro", number=first, author=instructor, base_number=first + 1
    )
    assert (restored.number, restored.origin, restored.message) == (first + 2, "restore", f"Restored revision {first}")
    assert Lesson.objects.get(node__slug="first").title == data["title"]


def test_a_prerequisite_that_closes_a_cycle_is_refused_naming_the_stages(course: Path, instructor: User) -> None:
    data = items.TYPES["node"].from_row(Node.objects.get(slug="first"))
    with pytest.raises(revisions.Invalid, match="cycle: “The first node” → “The second node” → “The first node”"):
        revisions.item_save(
            kind="node", data={**data, "prerequisites": ["second"]}, author=instructor,
            base_number=_newest("node", "first"),
        )  # fmt: skip
    assert not Node.objects.get(slug="first").prerequisites.exists()


def test_a_question_that_fails_the_banks_rules_is_refused(course: Path, instructor: User) -> None:
    data = items.TYPES["question"].from_row(Question.objects.get(qid="first-single"))
    no_correct = [{**choice, "correct": False} for choice in data["choices"]]
    with pytest.raises(revisions.Invalid, match="exactly one"):
        revisions.item_save(
            kind="question", data={**data, "choices": no_correct}, author=instructor,
            base_number=_newest("question", "first-single"),
        )  # fmt: skip
    assert Question.objects.get(qid="first-single").choices.filter(correct=True).count() == 1


def test_sync_keeps_a_studio_edit_takes_a_changed_file_and_keeps_both_when_both_changed(
    course: Path, instructor: User
) -> None:
    data = _lesson()
    revisions.item_save(
        kind="lesson",
        data={**data, "title": "Studio title"},
        author=instructor,
        base_number=_newest("lesson", "first/intro"),
    )
    # An unchanged file never undoes a studio edit.
    assert not content_sync(root=course).conflicts
    assert Lesson.objects.get(node__slug="first").title == "Studio title"
    # A file changed where the studio left the item alone is taken in, with a revision saying so.
    second = course / "02-second" / "01-intro.md"
    second.write_text(second.read_text().replace("title: second intro", "title: Second, from the file"))
    content_sync(root=course)
    assert Lesson.objects.get(node__slug="second").title == "Second, from the file"
    loaded = revisions.latest_revision(kind="lesson", key="second/intro")
    assert (loaded.origin, loaded.message) == ("file", "Loaded from lessons/content/02-second/01-intro.md")
    # Both changed: the studio's stays live, the file's waits in a conflict.
    first = course / "01-first" / "01-intro.md"
    first.write_text(first.read_text().replace("title: first intro", "title: File title"))
    report = content_sync(root=course)
    assert report.conflicts == ["lesson first/intro (lessons/content/01-first/01-intro.md)"]
    assert Lesson.objects.get(node__slug="first").title == "Studio title"
    conflict = ContentConflict.objects.get(resolved_at=None)
    assert "title: File title" in conflict.file_text
    # Once the file says what the studio says (the export committed), the conflict is over and nothing changes.
    first.write_text(item_data.lesson_text(_lesson()))
    report = content_sync(root=course)
    assert report.conflicts == []
    assert ContentConflict.objects.get().resolved_at is not None
    assert Lesson.objects.get(node__slug="first").title == "Studio title"
    assert FileBase.objects.get(kind="lesson", key="first/intro").file_hash == item_data.digest(_lesson())


def test_the_first_sync_keeps_one_revision_of_every_item(course: Path) -> None:
    kinds = dict.fromkeys(("lesson", "question", "node", "term", "faq"), 0)
    for kind in Revision.objects.values_list("kind", flat=True):
        kinds[kind] += 1
    assert kinds == {"lesson": 2, "question": Question.objects.count(), "node": 2, "term": 1, "faq": 1}
    content_sync(root=course)
    assert Revision.objects.count() == sum(kinds.values())
