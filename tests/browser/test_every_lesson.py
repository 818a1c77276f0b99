"""Every lesson of the real course, as a phone shows it: nothing scrolls sideways and axe finds nothing serious.

The page-type test checks one lesson; lessons differ in what their Markdown holds (tables, long code lines,
walkthroughs, diagrams), and any of them can push a phone's page sideways or carry markup axe refuses. An
instructor passes every stage's lock, so one sign-in reaches all of them; each lesson is a subtest named for it.
"""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from playwright.sync_api import Page, expect

from lessons.models import Lesson
from lessons.services import content_sync
from tests.browser.test_course_paths import _learner, _log_in
from tests.browser.test_layout_and_accessibility import PHONE, TOO_WIDE, _serious_violations

pytestmark = pytest.mark.browser


def test_every_lesson_fits_a_phone_and_passes_axe(
    live_server: object, page: Page, django_user_model: type, subtests: object
) -> None:
    content_sync()
    lessons = list(Lesson.objects.select_related("node").order_by("node__order", "order"))
    assert len(lessons) >= 40, f"only {len(lessons)} lessons were synced"
    instructor = _learner(django_user_model, "teacher")
    instructor.user_permissions.add(Permission.objects.get(codename="author_content"))
    page.set_viewport_size(PHONE)
    _log_in(page, live_server, instructor)
    for lesson in lessons:
        name = f"{lesson.node.slug}/{lesson.slug}"
        with subtests.test(msg=name):
            page.goto(live_server.url + reverse("lessons:lesson", args=[lesson.node.slug, lesson.slug]))
            expect(page.locator("h1")).to_have_text(lesson.title)
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], (
                f"{name} at 390 px scrolls sideways: {widths[0]} px of content in {widths[1]} px; "
                f"sticking out: {page.evaluate(TOO_WIDE)}"
            )
            violations = _serious_violations(page)
            assert not violations, f"{name}: axe found\n" + "\n".join(violations)
