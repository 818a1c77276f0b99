"""The studio's own pages: history with diffs and restore, conflicts with the content files resolved either way,
and the export of what changed as files that sync back to the same course."""

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from lessons.content_files import ContentError
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Question
from lessons.services import content_sync
from studio import export, items, revisions
from studio.models import ContentConflict, FileBase, Revision

pytestmark = pytest.mark.django_db

LESSON_KEY = "first/intro"


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="ines", password="correct horse battery")
    user.groups.add(instructors)
    return user


@pytest.fixture
def studio(client: Client, instructor: User, course: Path, settings: object) -> Client:
    settings.CONTENT_ROOT = course
    settings.STUDIO_EXPORT_WRITES = True
    client.force_login(instructor)
    return client


def _data(kind: str, key: str) -> dict:
    item = items.TYPES[kind]
    return item.from_row(item.lookup(key))


def _save(kind: str, key: str, author: User, message: str = "edit", **changes: object) -> Revision:
    newest = revisions.latest_revision(kind=kind, key=key)
    return revisions.item_save(
        kind=kind, data={**_data(kind, key), **changes}, author=author, message=message,
        base_number=newest.number if newest else 0,
    )  # fmt: skip


def _history(kind: str, key: str) -> str:
    return reverse("studio:history", kwargs={"kind": kind, "key": key})


# --- history, diff, restore -------------------------------------------------------------------


def test_history_lists_every_revision_with_who_and_why_and_diffs_the_newest_two(
    studio: Client, instructor: User
) -> None:
    _save("lesson", LESSON_KEY, instructor, "Sharper title", title="First, sharper")
    page = studio.get(_history("lesson", LESSON_KEY)).content.decode()
    assert "Loaded from lessons/content/01-first/01-intro.md" in page
    assert "Sharper title" in page
    assert "Restore revision 1" in page
    assert "Restore revision 2" not in page, "the current revision has nothing to restore"
    assert '<span class="visually-hidden">Added: </span>title: First, sharper' in page


def test_any_two_revisions_diff_in_place_over_htmx(studio: Client, instructor: User) -> None:
    _save("lesson", LESSON_KEY, instructor, title="Two")
    _save("lesson", LESSON_KEY, instructor, title="Three")
    fragment = studio.get(_history("lesson", LESSON_KEY), {"a": 1, "b": 3}, headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<h1" not in html
    assert "Revision 1 (" in html
    assert "title: Three" in html
    assert "title: Two" not in html


def test_an_unknown_revision_kind_or_item_is_not_found(studio: Client) -> None:
    _save("lesson", LESSON_KEY, User.objects.get(username="ines"), title="Two")
    assert studio.get(_history("lesson", LESSON_KEY), {"a": 9}).status_code == 404
    assert studio.get(_history("lesson", LESSON_KEY), {"a": "x"}).status_code == 404
    assert studio.get(_history("recipe", LESSON_KEY)).status_code == 404
    assert studio.get(_history("lesson", "first/nope")).status_code == 404


def test_restoring_an_old_revision_saves_it_as_a_new_one(studio: Client, instructor: User) -> None:
    _save("lesson", LESSON_KEY, instructor, title="Changed")
    url = reverse("studio:restore", kwargs={"kind": "lesson", "key": LESSON_KEY, "number": 1})
    response = studio.post(url, {"base_number": 2}, follow=True)
    assert "Restored revision 1 as revision 3." in response.content.decode()
    assert Lesson.objects.get(node__slug="first").title == "first intro"
    assert revisions.latest_revision(kind="lesson", key=LESSON_KEY).origin == Revision.Origin.RESTORE


def test_a_restore_from_a_page_older_than_the_newest_revision_changes_nothing(studio: Client, instructor: User) -> None:
    _save("lesson", LESSON_KEY, instructor, title="Changed")
    _save("lesson", LESSON_KEY, instructor, title="Changed again")
    url = reverse("studio:restore", kwargs={"kind": "lesson", "key": LESSON_KEY, "number": 1})
    response = studio.post(url, {"base_number": 2}, follow=True)
    assert "while you were editing" in response.content.decode()
    assert Lesson.objects.get(node__slug="first").title == "Changed again"
    assert studio.post(url, {}).status_code == 400
    assert Revision.objects.filter(key=LESSON_KEY).count() == 3


# --- conflicts --------------------------------------------------------------------------------


def _conflict(course: Path, instructor: User) -> ContentConflict:
    _save("lesson", LESSON_KEY, instructor, title="Studio title")
    path = course / "01-first" / "01-intro.md"
    path.write_text(path.read_text().replace("title: first intro", "title: File title"))
    report = content_sync(root=course)
    assert len(report.conflicts) == 1
    assert report.conflicts[0].startswith(f"lesson {LESSON_KEY} (")
    return ContentConflict.objects.get(resolved_at__isnull=True)


def test_a_conflict_shows_both_versions_and_keeping_the_studios_holds_it_through_the_next_sync(
    studio: Client, instructor: User, course: Path
) -> None:
    conflict = _conflict(course, instructor)
    page = studio.get(reverse("studio:conflicts")).content.decode()
    assert "Keep the studio's version" in page
    assert "title: File title" in page
    assert "title: Studio title" in page
    studio.post(reverse("studio:conflict_resolve", args=[conflict.pk]), {"keep": "studio"})
    conflict.refresh_from_db()
    assert conflict.resolution == ContentConflict.Resolution.STUDIO
    assert FileBase.objects.get(kind="lesson", key=LESSON_KEY).file_hash == conflict.file_hash
    report = content_sync(root=course)
    assert not report.conflicts
    assert Lesson.objects.get(node__slug="first").title == "Studio title"


def test_taking_the_files_version_saves_it_as_a_revision_and_the_next_sync_agrees(
    studio: Client, instructor: User, course: Path
) -> None:
    conflict = _conflict(course, instructor)
    studio.post(reverse("studio:conflict_resolve", args=[conflict.pk]), {"keep": "file"})
    assert Lesson.objects.get(node__slug="first").title == "File title"
    newest = revisions.latest_revision(kind="lesson", key=LESSON_KEY)
    assert newest.message.startswith("Took ")
    assert newest.author == instructor
    assert not content_sync(root=course).conflicts
    assert Lesson.objects.get(node__slug="first").title == "File title"


def test_a_bad_choice_or_a_resolved_conflict_changes_nothing(studio: Client, instructor: User, course: Path) -> None:
    conflict = _conflict(course, instructor)
    assert studio.post(reverse("studio:conflict_resolve", args=[conflict.pk]), {"keep": "both"}).status_code == 400
    assert studio.post(reverse("studio:conflict_resolve", args=[conflict.pk + 99]), {"keep": "file"}).status_code == 404
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
    assert Lesson.objects.get(node__slug="first").title == "Studio title"


# --- export -----------------------------------------------------------------------------------


def test_nothing_to_export_until_the_studio_changes_something(studio: Client) -> None:
    assert export.export_files() == []
    assert "Nothing to export" in studio.get(reverse("studio:export")).content.decode()


def test_an_export_rewrites_only_the_entries_that_changed_and_syncs_back_unchanged(
    studio: Client, instructor: User, course: Path
) -> None:
    questions = course / "01-first" / "questions.yaml"
    questions.write_text("# The first stage's questions, kept by hand.\n\n" + questions.read_text())
    content_sync(root=course)
    before = questions.read_text()
    _save("lesson", LESSON_KEY, instructor, title="Exported title")
    _save("question", "first-single", instructor, prompt="Which test suits a numeric feature best?")
    _save("term", "data-drift", instructor, definition="The inputs' distribution changes.")
    _save("faq", "1", instructor, answer="Yes, free for everyone.")
    files = {found.path: found for found in export.export_files()}
    assert sorted(files) == ["01-first/01-intro.md", "01-first/questions.yaml", "faq.yaml", "glossary.yaml"]
    new_questions = files["01-first/questions.yaml"].text
    assert new_questions.startswith("# The first stage's questions, kept by hand.\n\n- id: first-single\n")
    assert new_questions.split("- id: first-multiple", 1)[1] == before.split("- id: first-multiple", 1)[1]
    page = studio.get(reverse("studio:export")).content.decode()
    assert "Download 4 files (zip)" in page
    studio.post(reverse("studio:export"), {"action": "write"})
    assert questions.read_text() == new_questions
    report = content_sync(root=course)
    assert not report.conflicts
    assert export.export_files() == []
    assert Question.objects.get(qid="first-single").prompt == "Which test suits a numeric feature best?"
    assert GlossaryTerm.objects.get(slug="data-drift").definition == "The inputs' distribution changes."
    assert FaqEntry.objects.get(order=1).answer_source == "Yes, free for everyone."


def test_the_download_holds_the_files_under_lessons_content(studio: Client, instructor: User) -> None:
    _save("node", "second", instructor, summary="Second, summarised again.")
    response = studio.post(reverse("studio:export"), {"action": "download"})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["lessons/content/02-second/node.yaml"]
    assert "summary: Second, summarised again." in archive.read("lessons/content/02-second/node.yaml").decode()


def test_without_debug_the_site_never_writes_its_content_folder(
    studio: Client, instructor: User, course: Path, settings: object
) -> None:
    settings.STUDIO_EXPORT_WRITES = False
    _save("lesson", LESSON_KEY, instructor, title="Exported title")
    lesson = course / "01-first" / "01-intro.md"
    before = lesson.read_text()
    assert "Write them into" not in studio.get(reverse("studio:export")).content.decode()
    assert studio.post(reverse("studio:export"), {"action": "write"}).status_code == 403
    assert studio.post(reverse("studio:export"), {"action": "other"}).status_code == 400
    assert lesson.read_text() == before


def test_a_new_entry_is_appended_to_its_list_file() -> None:
    text = "# Terms\n- term: A\n  slug: a\n  definition: x\n\n# trailing note\n"
    spliced = export.splice_entry(text, "term", "b", "- term: B\n  slug: b\n  definition: y\n")
    assert spliced == text + "\n- term: B\n  slug: b\n  definition: y\n"
    replaced = export.splice_entry(text, "term", "a", "- term: A2\n  slug: a\n  definition: z\n")
    assert replaced == "# Terms\n- term: A2\n  slug: a\n  definition: z\n\n# trailing note\n"


def test_a_prompt_nobody_could_answer_is_a_problem_for_sync_and_for_the_studio(instructor: User, course: Path) -> None:
    body = _data("lesson", LESSON_KEY)["body"] + "\n::: prompt\nWhat would you monitor first?\n:::\n"
    with pytest.raises(revisions.Invalid) as refused:
        _save("lesson", LESSON_KEY, instructor, body=body)
    assert "prompt" in refused.value.message
    path = course / "01-first" / "01-intro.md"
    path.write_text(path.read_text() + "\n::: prompt\nWhat would you monitor first?\n:::\n")
    with pytest.raises(ContentError) as failed:
        content_sync(root=course)
    assert "prompt" in str(failed.value)


# --- who may -----------------------------------------------------------------------------------


def test_a_learner_is_refused_every_studio_page_of_its_own(learner_client: Client, course: Path) -> None:
    urls = [
        reverse("studio:home"),
        _history("lesson", LESSON_KEY),
        reverse("studio:conflicts"),
        reverse("studio:export"),
    ]
    for url in urls:
        assert learner_client.get(url).status_code == 403, url
    posts = [
        reverse("studio:restore", kwargs={"kind": "lesson", "key": LESSON_KEY, "number": 1}),
        reverse("studio:conflict_resolve", args=[1]),
        reverse("studio:export"),
    ]
    for url in posts:
        assert learner_client.post(url, {"keep": "file", "base_number": 0, "action": "write"}).status_code == 403, url
