"""The course as a learner and an instructor meet it in a browser: locks in lessons, free roam from a locked
page, the map's progress, the course-complete page and an instructor passing every lock.

State is made with the ORM and the services, over the small two-stage course of tests/content_tree.py, so each
test is a login and a page or two.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from playwright.sync_api import Page, expect

from lessons import attempts
from lessons.models import Lesson, Node, NodeProgress
from lessons.services import content_sync, lesson_mark_read
from tests.content_tree import write_content_tree, write_questions

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase 42"


@pytest.fixture
def two_stages(tmp_path: Path, live_server: object) -> Path:
    """The two-stage course, its first lesson linking forward into the second stage."""
    root = write_content_tree(tmp_path)
    lesson = root / "01-first" / "01-intro.md"
    lesson.write_text(
        lesson.read_text().replace("See [the other](lesson:first/intro).", "Next: [the second stage](node:second).")
    )
    write_questions(root)
    content_sync(root=root)
    return root


def _log_in(page: Page, live_server: object, user: User) -> None:
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".user-menu summary")).to_have_text(user.username)


def _learner(django_user_model: type, username: str = "ada") -> User:
    return django_user_model.objects.create_user(username=username, password=PASSWORD)


def test_a_lesson_link_into_a_locked_stage_shows_the_lock_and_why(
    live_server: object, page: Page, two_stages: Path, django_user_model: type
) -> None:
    _log_in(page, live_server, _learner(django_user_model))
    page.goto(live_server.url + reverse("lessons:lesson", args=["first", "intro"]))
    locked = page.locator(".prose .locked-link")
    expect(locked).to_have_text("the second stage 🔒 (Locked: complete “The first node” first)")
    expect(page.locator(".prose").get_by_role("link", name="the second stage")).to_have_count(0)


def test_the_locked_pages_free_roam_button_opens_the_stage(
    live_server: object, page: Page, two_stages: Path, django_user_model: type
) -> None:
    _log_in(page, live_server, _learner(django_user_model))
    second = live_server.url + reverse("lessons:node", args=["second"])
    page.goto(second)
    expect(page.get_by_role("heading", name="The second node is locked")).to_be_visible()
    expect(page.locator(".locked-reason")).to_have_text("Complete “The first node” first.")
    page.get_by_role("button", name="Turn on free roam and open this stage").click()
    expect(page).to_have_url(second)
    expect(page.get_by_role("heading", level=1)).to_have_text("2. The second node")
    expect(page.get_by_text("Free roam is on: every stage is open to explore.")).to_be_visible()


def test_the_map_shows_stages_and_lessons_and_what_its_bar_counts(
    live_server: object, page: Page, two_stages: Path, django_user_model: type
) -> None:
    learner = _learner(django_user_model)
    first = Node.objects.get(slug="first")
    lesson_mark_read(user=learner, lesson=Lesson.objects.get(node=first))
    NodeProgress.objects.filter(user=learner, node=first).update(completed_at=datetime.now(UTC))
    _log_in(page, live_server, learner)
    page.goto(live_server.url + reverse("lessons:map"))
    progress = page.locator(".map-progress")
    expect(progress).to_contain_text("1 of 2 stages completed · 1 of 2 lessons read")
    expect(progress.locator("progress")).to_have_attribute("value", "50")
    expect(progress).to_contain_text("50% of the course: lessons read count for half, completed stages")
    expect(page.get_by_role("link", name="See what you did")).to_have_count(0)


def test_a_learner_who_completed_every_stage_sees_the_course_complete_page(
    live_server: object, page: Page, two_stages: Path, django_user_model: type
) -> None:
    learner = _learner(django_user_model)
    attempts.attempt_finish(attempt=attempts.attempt_start_node(user=learner, node=Node.objects.get(slug="first")))
    for node in Node.objects.all():
        done = datetime(2026, 6, node.order, 10, 0, tzinfo=UTC)
        NodeProgress.objects.create(user=learner, node=node, quiz_passed_at=done, completed_at=done)
    _log_in(page, live_server, learner)
    page.goto(live_server.url + reverse("lessons:map"))
    expect(page.get_by_text("You have completed every stage of the course.")).to_be_visible()
    page.get_by_role("link", name="See what you did").click()
    expect(page).to_have_url(re.compile(r"/course/complete/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Course complete")
    rows = page.locator("table.course-record tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("The first node")
    expect(rows.first).to_contain_text("1 Jun 2026")
    expect(rows.nth(1)).to_contain_text("2 Jun 2026")
    expect(page.locator("#stages-heading + p")).to_contain_text("2 of 2 stages completed")
    expect(page.locator("#stages-heading + p")).to_contain_text("1 quiz attempt")


def test_an_instructor_opens_a_locked_stage(
    live_server: object, page: Page, two_stages: Path, django_user_model: type
) -> None:
    instructor = _learner(django_user_model, "teacher")
    # Live-server tests flush the database, data migrations' groups included; the permission itself remains.
    instructor.user_permissions.add(Permission.objects.get(codename="author_content"))
    _log_in(page, live_server, instructor)
    page.goto(live_server.url + reverse("lessons:map"))
    second = page.locator("#node-second")
    expect(second).to_have_class(re.compile("map-node--open"))
    second.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2. The second node")
    page.get_by_role("link", name="second intro").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("second intro")
