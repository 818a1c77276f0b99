import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "test-results"))


def test_a_new_learner_signs_up_and_watches_a_job_succeed(
    live_server: object, celery_worker: object, page: Page
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create a free account").click()
    page.get_by_label("Username").fill("newlearner")
    page.get_by_label("Password", exact=True).fill("a long passphrase 42")
    page.get_by_label("Password confirmation").fill("a long passphrase 42")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome to MLOps Lab, newlearner.")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox").click()
    assert page.evaluate("typeof htmx") == "object"
    page.get_by_label("Epochs").fill("60")
    with page.expect_response(lambda r: r.url.endswith("/sandbox/jobs/") and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Train").click()
    assert posted.value.request.headers["hx-request"] == "true"

    job = page.locator("article.job").first
    expect(page.get_by_text("No jobs yet")).to_be_hidden()
    expect(job).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(job.locator("progress")).to_have_attribute("value", "100")
    expect(job).to_contain_text(re.compile(r"Test accuracy 0\.\d{3} after 60 epochs"))
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "sandbox.png", full_page=True)

    job.get_by_role("link").click()
    expect(page.locator(".chart .plot-container")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "job.png", full_page=True)


def test_a_refused_job_shows_its_reason_in_place(live_server: object, page: Page, django_user_model: type) -> None:
    django_user_model.objects.create_user(username="eve", password="a long passphrase 42")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("eve")
    page.get_by_label("Password").fill("a long passphrase 42")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/sandbox/")
    page.get_by_label("Epochs").fill("999")
    page.get_by_role("button", name="Train").click()
    expect(page.locator("#start-form")).to_contain_text("less than or equal to 200")
    expect(page.locator("article.job")).to_have_count(0)
