import re

import pytest
from playwright.sync_api import Page, expect

from lessons.models import Question, QuizAttempt, ReviewCard
from lessons.services import content_sync

pytestmark = pytest.mark.browser


def test_an_interview_session_runs_to_its_scorecard_and_fills_the_review_queue(
    live_server: object, page: Page, django_user_model: type
) -> None:
    content_sync()
    django_user_model.objects.create_user(username="candidate", password="a long passphrase 42")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("candidate")
    page.get_by_label("Password").fill("a long passphrase 42")
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Interview").click()
    page.get_by_role("button", name="Start the session").click()
    expect(page.locator(".timer__value")).to_have_text(re.compile(r"^(10:00|9:5\d)$"))
    attempt = QuizAttempt.objects.get(user__username="candidate")

    for _ in range(3):
        card = page.locator("article.question")
        question = Question.objects.get(pk=int(card.get_attribute("id").removeprefix("q-")))
        if question.kind == Question.Kind.EXPLAIN:
            card.get_by_role("link", name="Reveal the model answer").click()
            expect(card.get_by_text("Model answer", exact=True)).to_be_visible()
            card.get_by_role("button", name="Hard").click()
        elif question.kind == Question.Kind.NUMERIC:
            card.locator('input[name="value"]').fill(str(question.answer["value"] + 1000))
            card.get_by_role("button", name="Check answer").click()
        else:
            # Any first option, or the default order: right or wrong, it is graded on the server.
            options = card.locator('input[name="choice"], input[name="value"]')
            if options.count():
                options.first.check()
            card.get_by_role("button", name="Check answer").click()
        expect(page.locator(f"#q-{question.pk} .explanation")).to_be_visible()
        page.get_by_role("link", name="Next question").click()

    page.get_by_role("button", name="End the session now").click()
    expect(page.locator("#attempt-status")).to_contain_text("Session over")
    expect(page.locator("#attempt-status .chart .plot-container")).to_be_visible()
    attempt.refresh_from_db()
    answers = list(attempt.answers.all())
    assert len(answers) == 3
    expected_cards = sum(1 for a in answers if a.correct is False or a.rating == 2)
    assert ReviewCard.objects.filter(user__username="candidate").count() == expected_cards
