"""A learner completes stage 11's challenge in a browser: evaluates the baseline, saves a better RAG configuration,
watches its evaluation finish, compares it with the baseline in the runs' compare page, promotes it through the
regression gate and sees the challenge met; the RAG pages pass axe and fit a desktop and a phone."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox.llmops import services
from sandbox.models import Run
from tests.browser.test_first_job import SCREENSHOTS
from tests.browser.test_layout_and_accessibility import RECORD_CSP_VIOLATIONS, _check
from tests.llmops_course import glossary_and_faq_sync

pytestmark = pytest.mark.browser


def _finished(page: Page) -> None:
    # The evaluation card polls until its run ends; then it carries the run's status and no progress bar.
    expect(page.locator("#rag-evaluation")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("#rag-evaluation progress")).to_have_count(0)
    expect(page.locator("#rag-metrics")).to_contain_text("hit_rate_at_3")


def test_a_learner_beats_the_baseline_and_promotes_it_through_the_gate(
    live_server: object, celery_worker: object, page: Page, learner: User, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    glossary_and_faq_sync(tmp_path, with_stage=True)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    page.goto(live_server.url + "/sandbox/")
    page.get_by_role("link", name="RAG evaluation").click()
    expect(page.get_by_role("heading", name="RAG evaluation", exact=True)).to_be_visible()
    expect(page.locator("#rag-challenge li.done")).to_have_count(0)

    # The baseline v1 exists from the first visit; evaluate it.
    page.get_by_role("button", name="Evaluate v1").click()
    expect(page.get_by_text("The evaluation of v1 is queued.")).to_be_visible()
    _finished(page)

    # A better configuration: longer overlapping chunks, titles, English stop words, sublinear tf.
    page.get_by_role("link", name="RAG evaluation").click()
    form = page.locator("#rag-form")
    form.get_by_label("Chunk size").fill("80")
    form.get_by_label("Chunk overlap").fill("20")
    form.get_by_label("stop_words").select_option("english")
    form.get_by_label("sublinear_tf").check()
    form.get_by_label("Prepend each document's title").check()
    form.get_by_label("Note").fill("titles, stop words and overlap")
    form.get_by_role("button", name="Save and evaluate").click()
    expect(page.get_by_text("Saved v2; its evaluation on the golden set is queued.")).to_be_visible()
    expect(page.get_by_role("heading", name="Configuration v2")).to_be_visible()
    _finished(page)
    version_two = page.url
    runs = {run.name: run for run in Run.objects.filter(owner=learner)}
    assert runs["rag-v2"].metrics["hit_rate_at_3"] > runs["rag-v1"].metrics["hit_rate_at_3"]

    # Compare with the baseline in tracking's compare page, then come back and promote.
    page.get_by_role("link", name="Compare with the baseline").click()
    expect(page.locator("main")).to_contain_text("rag-v1")
    expect(page.locator("main")).to_contain_text("rag-v2")
    expect(page.locator("main")).to_contain_text("hit_rate_at_3")
    compare_url = page.url
    page.goto(version_two)
    page.get_by_role("button", name="Promote through the gate (against v1)").click()
    expect(page.get_by_text("The gate passed: v2 is now the promoted version.")).to_be_visible()
    expect(page.locator("#is-promoted")).to_be_visible()
    expect(page.locator("#rag-gates")).to_contain_text("passed")
    assert services.promoted_version(owner=learner).number == 2

    page.get_by_role("link", name="RAG evaluation").click()
    expect(page.locator("#rag-challenge h2")).to_have_text("Stage 11 challenge: met")
    expect(page.locator("#rag-challenge li.done")).to_have_count(3)
    expect(page.locator("#promoted-version")).to_have_text("v2")
    # Stage 11's page shows the same three steps met.
    page.goto(live_server.url + "/map/llmops/")
    steps = page.locator(".completion .checklist li.done")
    expect(steps).to_have_count(3)
    expect(steps.last).to_contain_text("Promote it through the regression gate")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "rag-home.png", full_page=True)

    _check(page, live_server.url + "/sandbox/rag/", "RAG evaluation")
    _check(page, version_two, "RAG version")
    _check(page, live_server.url + "/sandbox/rag/v1/", "RAG baseline")
    _check(page, compare_url, "RAG compare")
