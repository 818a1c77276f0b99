"""Issue 13's whole path in a browser: an instructor writes a lesson with a live preview, publishes it, reads it as
a learner, restores an older revision and exports the change as files; the next sync (what `make run` does first)
keeps the edit; a file changed behind the studio's back is reported and resolved in the studio; then the
instructor opens a cohort, a learner joins by the invite link and passes a quiz, and the cohort page shows it."""

import re
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from lessons.models import Lesson, Question, QuizAttempt
from lessons.services import CONTENT_ROOT, content_sync
from studio.models import ContentConflict
from tests.browser.test_layout_and_accessibility import PASSWORD
from tests.browser.test_quiz_unlocks import _answer_correctly

pytestmark = pytest.mark.browser

STAGE = "problem-framing"
SLUG = "studio-walkthrough"
KEY = f"{STAGE}/{SLUG}"


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="ines", password=PASSWORD)
    user.groups.add(instructors)
    return user


@pytest.fixture
def content(tmp_path: Path, settings: object) -> Path:
    """A checkout's content folder: the real course, copied so the export can write into it."""
    root = tmp_path / "lessons" / "content"
    shutil.copytree(CONTENT_ROOT, root)
    settings.CONTENT_ROOT = root
    settings.STUDIO_EXPORT_WRITES = True
    content_sync(root=root)
    return root


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".user-menu summary")).to_have_text(username)


def _body(page: Page, text: str) -> None:
    with page.expect_response(lambda r: r.url.endswith(reverse("studio:lesson_preview"))) as previewed:
        page.locator("#id_body").fill(text)
    assert previewed.value.status == 200
    assert previewed.value.request.headers["hx-request"] == "true"


def test_an_instructor_authors_round_trips_and_teaches(
    live_server: object, page: Page, browser: Browser, instructor: User, content: Path, learner: User
) -> None:
    url = live_server.url
    _log_in(page, url, "ines")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Studio").click()
    page.get_by_role("link", name="Lessons", exact=True).click()
    page.goto(url + reverse("studio:lesson_create") + f"?node={STAGE}")

    # A new lesson, previewed as it is typed: the same renderer, problems by line, words and reading time.
    page.get_by_label("Slug").fill(SLUG)
    page.get_by_label("Title").fill("A walk through the studio")
    page.get_by_label("Order").fill("9")
    preview = page.locator("#lesson-preview-body")
    _body(page, "Read [the first lesson](lesson:problem-framing/nope) first.\n")
    expect(preview.locator(".problems")).to_contain_text("lesson:problem-framing/nope")
    expect(preview.locator(".problems")).to_contain_text(re.compile(r"line \d+"))
    _body(page, "Read [the first lesson](lesson:problem-framing/what-is-mlops) first.\n\nA **bold** step.\n")
    expect(preview.locator("strong").last).to_have_text("bold")
    expect(preview.locator(".preview-summary")).to_contain_text("no problems")
    assert Lesson.objects.filter(slug=SLUG).count() == 0, "a preview saves nothing"
    page.get_by_label("Message").fill("A first draft")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("as a draft (revision 1)")).to_be_visible()

    # Seen as a learner would see it, then published as an explicit step.
    page.get_by_role("link", name="View as learner").click()
    expect(page.get_by_text("Preview as a learner sees it — draft, not visible to learners.")).to_be_visible()
    expect(page.locator(".prose strong").last).to_have_text("bold")
    page.go_back()
    page.get_by_role("button", name="Publish the saved version").click()
    expect(page.get_by_text("learners can read it")).to_be_visible()
    assert Lesson.objects.get(slug=SLUG).status == Lesson.Status.PUBLISHED

    # A second edit, then the history: the first text restored as a new revision.
    page.get_by_label("Title").fill("The studio, step by step")
    page.get_by_label("Message").fill("A clearer title")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("as revision 3")).to_be_visible()
    page.get_by_role("link", name="History").click()
    expect(page.locator("#diff")).to_contain_text("title: The studio, step by step")
    page.get_by_role("button", name="Restore revision 1").click()
    expect(page.get_by_text("Restored revision 1 as revision 4.")).to_be_visible()
    lesson = Lesson.objects.get(slug=SLUG)
    assert lesson.title == "A walk through the studio"
    assert lesson.status == Lesson.Status.DRAFT, "revision 1 was the draft"
    page.goto(url + reverse("studio:lesson_edit", args=[STAGE, SLUG]))
    page.get_by_role("button", name="Publish the saved version").click()
    expect(page.get_by_text("learners can read it")).to_be_visible()

    # The export writes the lesson's file; the sync that `make run` starts with keeps the edit.
    page.goto(url + reverse("studio:export"))
    expect(page.locator("h2", has_text="01-problem-framing/09-studio-walkthrough.md")).to_be_visible()
    page.get_by_role("button", name=re.compile("Write them into")).click()
    expect(page.get_by_text(re.compile(r"Wrote 1 file\(s\)"))).to_be_visible()
    written = content / "01-problem-framing" / "09-studio-walkthrough.md"
    assert "title: A walk through the studio" in written.read_text()
    report = content_sync(root=content)
    assert not report.conflicts
    assert Lesson.objects.get(slug=SLUG).title == "A walk through the studio"
    page.reload()
    expect(page.get_by_text("Nothing to export")).to_be_visible()

    # A file changed while the studio changed the same lesson: sync keeps both and the studio asks.
    page.goto(url + reverse("studio:lesson_edit", args=[STAGE, SLUG]))
    page.get_by_label("Title").fill("Studio side")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved “Studio side”")).to_be_visible()
    written.write_text(written.read_text().replace("title: A walk through the studio", "title: File side"))
    report = content_sync(root=content)
    assert len(report.conflicts) == 1
    assert Lesson.objects.get(slug=SLUG).title == "Studio side", "the studio's edit stays live"
    page.goto(url + reverse("studio:home"))
    page.get_by_role("link", name="Choose which version to keep").click()
    expect(page.locator(".conflict .diff")).to_contain_text("title: File side")
    expect(page.locator(".conflict .diff")).to_contain_text("title: Studio side")
    page.get_by_role("button", name="Keep the studio's version").click()
    expect(page.locator(".message--success")).to_contain_text("Kept the studio's version")
    assert not ContentConflict.objects.filter(resolved_at__isnull=True).exists()
    assert not content_sync(root=content).conflicts
    assert Lesson.objects.get(slug=SLUG).title == "Studio side"

    # A cohort, a learner who joins by the invite link and passes a quiz, and the instructor's page.
    page.goto(url + reverse("cohorts:create"))
    page.get_by_label("Name").fill("Winter class")
    page.get_by_role("button", name="Create cohort").click()
    invite = page.locator("#invite-heading ~ p a").last.get_attribute("href")
    cohort_page = page.url
    learner.set_password(PASSWORD)
    learner.save()
    context = browser.new_context()
    other = context.new_page()
    _log_in(other, url, learner.username)
    other.goto(invite)
    other.get_by_role("button", name="Join Winter class").click()
    expect(other.get_by_text("You joined “Winter class”")).to_be_visible()
    other.goto(url + reverse("lessons:quiz", args=[STAGE]))
    other.get_by_role("button", name="Start the quiz").click()
    attempt = QuizAttempt.objects.get(user=learner)
    questions = {q.pk: q for q in Question.objects.filter(pk__in=attempt.question_ids).prefetch_related("choices")}
    for pk in attempt.question_ids:
        _answer_correctly(other, attempt, questions[pk])
    expect(other.locator("#attempt-status")).to_contain_text("Passed")
    context.close()

    page.goto(cohort_page)
    row = page.locator("table.heatmap tbody tr", has_text=learner.username)
    expect(row.locator("td").first).to_have_class(re.compile(r"hm--(quiz_passed|completed|challenge_met)"))
    answered = page.locator("table.question-stats tbody td.metric:nth-child(3)", has_text=re.compile(r"^1$"))
    expect(answered.first).to_be_visible()
    expect(page.locator("table.question-stats tbody tr th a").first).to_have_attribute(
        "href", re.compile(r"^/studio/questions/\d+/$")
    )
