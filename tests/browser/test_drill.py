"""A learner completes an incident drill in a real browser, against a live server and a real worker: the drill
deploys their model and sends it hidden traffic, a release slows every answer down, the learner finds the slower
release, reports a latency regression, rolls it back, and reads the score and what the fault was; the drill pages
pass axe and fit a desktop and a phone.

The drill's fault is narrowed to the latency regression (a test setting), its traffic kept small and fast."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox.datasets import services as dataset_services
from sandbox.models import Drill, Experiment, Release
from sandbox.registry import artifacts
from sandbox.registry import services as registry
from sandbox.serving import endpoint
from tests.browser.test_first_job import SCREENSHOTS
from tests.browser.test_layout_and_accessibility import PASSWORD, RECORD_CSP_VIOLATIONS, _check
from tests.browser.test_registry import _trained

pytestmark = pytest.mark.browser

# The page's words without its drop-down choices, which list every fault whatever the drill's is.
SHOWN_BUT_THE_CHOICES = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('select').forEach(choice => choice.remove());
  return copy.textContent;
}"""


def test_a_learner_finds_a_latency_regression_rolls_it_back_and_passes_the_drill(
    live_server: object, celery_worker: object, page: Page, learner: User, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.DRILL_FAULTS = ["latency"]
    settings.DRILL_BASELINE_REQUESTS = 100
    settings.DRILL_FAULT_REQUESTS = 60
    settings.DRILL_VERIFY_REQUESTS = 40
    settings.DRILL_RATE = 200.0
    settings.DRILL_LABEL_DELAY = 1
    settings.DRILL_LATENCY_MS = (150, 150)
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="cancer", dataset=dataset)
    registry.model_version_register(run=_trained(experiment, "baseline", 1.0), model_name="tumour classifier")
    site = live_server.url
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(site + "/accounts/login/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # From the sandbox's areas to the drills, and a drill on version 1.
    page.goto(f"{site}/sandbox/")
    page.get_by_role("link", name="Drills").click()
    expect(page.locator("h1")).to_have_text("Incident drills")
    start = page.locator("#drill-start-form")
    start.get_by_label("Model version").select_option(label="tumour classifier v1 (logistic regression)")
    start.get_by_role("button", name="Start the drill").click()
    expect(page.locator("h1")).to_contain_text("Incident drill #")
    drill = Drill.objects.get()
    drill_page = page.url
    # The page follows the deploy and then the traffic, and opens the report once the traffic flows; nothing on it
    # says what will go wrong.
    report = page.locator("#drill-report-form")
    expect(report).to_be_visible(timeout=60_000)
    shown = page.evaluate(SHOWN_BUT_THE_CHOICES).lower()
    assert "regression" not in shown
    assert "150" not in shown
    expect(page.locator("#drill-reveal")).to_have_count(0)

    # The investigation: the endpoint's release history shows a release arriving mid-traffic. Wait for the
    # traffic to end (the page reloads when it has) and look.
    expect(page.locator("#drill-progress progress")).to_have_count(0, timeout=60_000)
    expect(page.locator("#drill-fix-form")).to_have_count(0)
    assert (
        page.locator("#drill-dashboard").get_attribute("href") == f"/sandbox/deployments/{drill.deployment_id}/monitor/"
    )
    page.goto(f"{site}/sandbox/deployments/{drill.deployment_id}/")
    expect(page.locator("#release-2")).to_contain_text("Routine rebuild of the serving image.")
    slow = Release.objects.get(deployment_id=drill.deployment_id, number=2)
    assert slow.added_latency_ms == 150

    # The report, then the fix: a rollback to the release before the slow one.
    page.goto(drill_page)
    _check(page, drill_page, "drill page (running)")
    page.set_viewport_size({"width": 1366, "height": 768})
    report = page.locator("#drill-report-form")
    report.get_by_label("What went wrong").select_option(label="A latency regression")
    report.get_by_label("Which column").select_option(value="none")
    report.get_by_role("button", name="Report").click()
    expect(page.locator("#drill-report")).to_contain_text("You reported a latency regression")
    fix = page.locator("#drill-fix-form")
    fix.get_by_label("The fix").select_option(label="Roll back the last release")
    fix.get_by_role("button", name="Apply the fix").click()
    expect(page.locator("#drill-fix")).to_contain_text("roll back the last release")

    # The check sends traffic with the fault still in place; the page reloads with the score once it is done.
    expect(page.locator("#drill-score")).to_have_text("100/100", timeout=60_000)
    expect(page.locator("#drill-status")).to_have_text("Finished")
    expect(page.locator("#drill-reveal h2")).to_have_text("What it was: a latency regression")
    expect(page.locator("#drill-reveal")).to_contain_text("150 ms slower")
    expect(page.locator("#drill-figures tbody tr")).to_have_count(3)
    detect = page.locator("#drill-score-detail tr[data-part=detect]")
    expect(detect).to_contain_text("40 of 40")
    expect(page.locator("#drill-score-detail tr[data-part=fix]")).to_contain_text("Restored the service level.")
    under, after = (page.locator(f"#drill-figures tr[data-part={part}] td").nth(4) for part in ("fault", "verify"))
    assert float(re.match(r"([\d.]+) ms", under.inner_text()).group(1)) >= 150
    assert float(re.match(r"([\d.]+) ms", after.inner_text()).group(1)) < 150
    drill.refresh_from_db()
    assert (drill.score, drill.passed, drill.restored) == (100, True, True)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "drill-scored.png", full_page=True)
    _check(page, drill_page, "drill page (scored)")

    # The history shows the drill, its fault now that it is over, and its score.
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{site}/sandbox/drills/")
    row = page.locator(f"#drill-{drill.pk}")
    expect(row).to_contain_text("A latency regression")
    expect(row).to_contain_text("100/100")
    expect(row).to_contain_text("Passed")
    _check(page, f"{site}/sandbox/drills/", "drills page")
