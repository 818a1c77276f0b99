import re

import pytest
from playwright.sync_api import Page, expect

from lessons import grading
from lessons.models import Question, QuizAttempt
from lessons.services import content_sync
from tests.browser.test_first_job import SCREENSHOTS

pytestmark = pytest.mark.browser


def _answer_correctly(page: Page, attempt: QuizAttempt, question: Question) -> None:
    card = page.locator(f"#q-{question.pk}")
    if question.kind in Question.CHOICE_KINDS:
        shown = grading.display_choices(question, list(question.choices.all()), seed=attempt.seed)
        for position, choice in enumerate(shown):
            if choice.correct:
                card.locator(f'input[name="choice"][value="{position}"]').check()
    elif question.kind == Question.Kind.TRUE_FALSE:
        card.locator(f'input[name="value"][value="{"true" if question.answer["value"] else "false"}"]').check()
    elif question.kind == Question.Kind.NUMERIC:
        card.locator('input[name="value"]').fill(str(question.answer["value"]))
    elif question.kind == Question.Kind.ORDERING:
        for position, item in enumerate(grading.display_items(question, seed=attempt.seed)):
            card.locator(f'select[name="position-{position}"]').select_option(
                str(question.answer["order"].index(item) + 1)
            )
    with page.expect_response(lambda r: r.url.endswith(f"/{question.pk}/answer/")) as answered:
        card.get_by_role("button", name="Check answer").click()
    assert answered.value.status == 200
    assert answered.value.request.headers["hx-request"] == "true"
    expect(page.locator(f"#q-{question.pk} .verdict")).to_have_text("Correct")


def test_a_learner_passes_stage_one_and_sees_stage_two_unlock(
    live_server: object, celery_worker: object, page: Page
) -> None:
    content_sync()
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Username").fill("quizzer")
    page.get_by_label("Password", exact=True).fill("a long passphrase 42")
    page.get_by_label("Password confirmation").fill("a long passphrase 42")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#node-data-collection")).to_have_class(re.compile("map-node--locked"))

    # The stage's challenge: a first model trained on the worker.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox").click()
    page.get_by_role("button", name="Train").click()
    expect(page.locator("article.job").first).to_have_attribute("data-status", "succeeded", timeout=60_000)

    page.goto(live_server.url + "/map/problem-framing/quiz/")
    page.get_by_role("button", name="Start the quiz").click()
    attempt = QuizAttempt.objects.get(user__username="quizzer")
    questions = {q.pk: q for q in Question.objects.filter(pk__in=attempt.question_ids).prefetch_related("choices")}
    page_source = page.content()
    for question in questions.values():
        assert question.explanation_html.strip() not in page_source
    for pk in attempt.question_ids:
        _answer_correctly(page, attempt, questions[pk])

    status = page.locator("#attempt-status")
    expect(status).to_contain_text(f"Passed: {len(questions)} of {len(questions)} correct (100%)")
    expect(status).to_contain_text("Stage complete")
    expect(status.get_by_role("link", name="Data collection and versioning")).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "quiz.png", full_page=False)

    status.get_by_role("link", name="Back to your map").click()
    expect(page.locator("#node-problem-framing")).to_have_class(re.compile("map-node--completed"))
    expect(page.locator("#node-data-collection")).to_have_class(re.compile("map-node--open"))
    expect(page.get_by_text("1 of 11 stages completed")).to_be_visible()
