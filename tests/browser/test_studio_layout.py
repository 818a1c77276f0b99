"""Every studio and cohort page type fits a desktop and a phone and passes axe-core, as an instructor sees it
with real content: the whole course, a revision history, a conflict with the files, an export and a cohort."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Page, expect

from cohorts.models import CohortMembership
from cohorts.services import cohort_create
from lessons import attempts
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node, Question
from lessons.services import content_sync
from studio import items, revisions
from studio.models import ContentConflict
from tests.browser.test_layout_and_accessibility import PASSWORD, RECORD_CSP_VIOLATIONS, _check

pytestmark = pytest.mark.browser


def _edit(kind: str, key: str, author: User, **changes: object) -> None:
    item = items.TYPES[kind]
    newest = revisions.latest_revision(kind=kind, key=key)
    revisions.item_save(
        kind=kind, data={**item.from_row(item.lookup(key)), **changes}, author=author, message="A clearer title",
        base_number=newest.number if newest else 0,
    )  # fmt: skip


def _studio_pages(instructor: User, learner: User) -> dict[str, str]:
    content_sync()
    first = Node.objects.order_by("order").first()
    lesson = Lesson.objects.filter(node=first).order_by("order").first()
    _edit("lesson", f"{first.slug}/{lesson.slug}", instructor, title=lesson.title + ", revised")
    ContentConflict.objects.create(
        kind="lesson", key=f"{first.slug}/{lesson.slug}", path=lesson.source_path, file_hash="0" * 64,
        file_data=items.TYPES["lesson"].from_row(lesson), file_text=items.TYPES["lesson"].text(
            items.TYPES["lesson"].from_row(lesson)
        ),
    )  # fmt: skip
    cohort = cohort_create(instructor=instructor, name="Autumn class")
    CohortMembership.objects.create(cohort=cohort, learner=learner)
    attempt = attempts.attempt_start_node(user=learner, node=first)
    attempts.attempt_finish(attempt=attempt)
    term, faq = GlossaryTerm.objects.order_by("slug").first(), FaqEntry.objects.order_by("order").first()
    pages = {
        "studio": reverse("studio:home"),
        "lessons": reverse("studio:lesson_list"),
        "new lesson": reverse("studio:lesson_create"),
        "lesson editor": reverse("studio:lesson_edit", args=[first.slug, lesson.slug]),
        "lesson as a learner": reverse("studio:lesson_learner_view", args=[first.slug, lesson.slug]),
        "questions": reverse("studio:question_list"),
        "stages": reverse("studio:node_list"),
        "stage editor": reverse("studio:node_edit", args=[first.slug]),
        "new stage": reverse("studio:node_create"),
        "glossary": reverse("studio:term_list"),
        "term editor": reverse("studio:term_edit", args=[term.slug]),
        "faq": reverse("studio:faq_list"),
        "faq editor": reverse("studio:faq_edit", args=[faq.order]),
        "history": reverse("studio:history", kwargs={"kind": "lesson", "key": f"{first.slug}/{lesson.slug}"}),
        "conflicts": reverse("studio:conflicts"),
        "export": reverse("studio:export"),
        "cohorts": reverse("cohorts:list"),
        "new cohort": reverse("cohorts:create"),
        "cohort": reverse("cohorts:detail", args=[cohort.pk]),
    }
    for kind in ("single", "ordering", "numeric", "explain"):
        question = Question.objects.filter(kind=kind).order_by("pk").first()
        pages[f"{kind} question editor"] = reverse("studio:question_edit", args=[question.pk])
    return pages


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="ines", password=PASSWORD)
    user.groups.add(instructors)
    return user


def test_every_studio_page_fits_a_desktop_and_a_phone_and_passes_axe(
    page: Page, live_server: object, instructor: User, learner: User, subtests: object
) -> None:
    pages = _studio_pages(instructor, learner)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("ines")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Studio")).to_be_visible()
    for name, path in pages.items():
        with subtests.test(msg=name):
            _check(page, live_server.url + path, name)
