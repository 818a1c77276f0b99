"""A learner registers two versions from their run pages, promotes through the gate (it passes, then fails
and is overridden), reads the timeline, asks which version champion pointed at, and opens the lineage; the
model and version pages pass axe and fit a desktop and a phone."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, ModelAlias, Run
from sandbox.registry import artifacts
from sandbox.tracking import services as tracking
from tests.browser.test_first_job import SCREENSHOTS
from tests.browser.test_layout_and_accessibility import RECORD_CSP_VIOLATIONS, _check

pytestmark = pytest.mark.browser


def _trained(experiment: Experiment, name: str, c: float) -> Run:
    run = Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(), name=name,
        algorithm="logistic_regression", params={"C": c, "max_iter": 200}, seed=5,
        preparation=training.Preparation().as_dict(), split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    tracking.run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def _promote(page: Page, *, tolerance: str, expected: str) -> None:
    form = page.locator("#promote-form")
    form.get_by_label("Tolerance").fill(tolerance)
    form.get_by_label("Latency limit (ms)").fill("500")
    form.get_by_role("button", name="Promote through the gate").click()
    # The checklist fills in on the page as the worker runs the gate: the fragment polls until it ends.
    expect(page.locator("#gate")).to_have_attribute("data-status", expected, timeout=60_000)
    expect(page.locator("#gate-checks li")).to_have_count(5)


def test_a_learner_registers_promotes_through_the_gate_and_reads_the_audit(
    live_server: object, celery_worker: object, page: Page, learner: User, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    artifacts.model_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="cancer", dataset=dataset)
    weak, strong = _trained(experiment, "weak", 0.0001), _trained(experiment, "strong", 1.0)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    # Register both runs' models from their run pages: the first as a new model, the second into it.
    page.goto(f"{live_server.url}/sandbox/runs/{weak.pk}/")
    page.get_by_label("New model's name").fill("tumour classifier")
    page.get_by_role("button", name="Register this model").click()
    expect(page.get_by_text("Registered as version 1 of tumour classifier.")).to_be_visible()
    page.goto(f"{live_server.url}/sandbox/runs/{strong.pk}/")
    page.get_by_label("Register as a version of").select_option(label="tumour classifier")
    page.get_by_role("button", name="Register this model").click()
    expect(page.get_by_text("Registered as version 2 of tumour classifier.")).to_be_visible()
    version_two = page.url

    # Version 1 becomes champion through the gate (no champion yet), then version 2, the better one, over it.
    page.locator(".breadcrumb a").nth(1).click()
    page.get_by_role("link", name="Version 1", exact=True).click()
    version_one = page.url
    _promote(page, tolerance="0.01", expected="passed")
    page.goto(version_two)
    _promote(page, tolerance="0", expected="passed")
    expect(page.locator("#gate-outcome")).to_contain_text("Alias moved")
    # Back to the weaker version 1 with no tolerance: the gate fails and blocks, until overridden with a reason.
    page.goto(version_one)
    _promote(page, tolerance="0", expected="failed")
    expect(page.locator("#gate-checks li[data-check=golden]")).to_contain_text("Fail")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "registry-gate-failed.png", full_page=True)
    assert ModelAlias.objects.get(alias="champion").version.number == 2
    page.get_by_label("Reason for overriding the gate").fill("rollback drill: v1 is the audited one")
    page.get_by_role("button", name="Promote anyway").click()
    expect(page.get_by_text("Promoted over the failed gate")).to_be_visible()
    assert ModelAlias.objects.get(alias="champion").version.number == 1

    # The timeline on the model page keeps all three moves, the override with its reason.
    page.locator(".breadcrumb a").nth(1).click()
    rows = page.locator("#timeline tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("failed, overridden")
    expect(rows.first).to_contain_text("rollback drill")
    expect(rows.nth(1)).to_contain_text("passed")
    page.screenshot(path=SCREENSHOTS / "registry-model.png", full_page=True)

    # Ask which version champion pointed at: before anything, it did not exist yet.
    as_of = page.locator("#as-of")
    as_of.get_by_label("Alias").fill("champion")
    as_of.get_by_label("On (UTC)").fill("2001-02-03T04:05:06")
    as_of.get_by_role("button", name="Ask").click()
    expect(page.locator("#as-of-answer")).to_contain_text("did not exist yet")
    # The answer came in place (htmx); the form is still there to ask again.
    as_of.get_by_label("On (UTC)").fill("2999-01-01T00:00:00")
    as_of.get_by_role("button", name="Ask").click()
    expect(page.locator("#as-of-answer")).to_contain_text("version 1")

    # The lineage walks version → run → data → code, each a link.
    page.get_by_role("link", name="lineage of version 2").click()
    expect(page.locator("#lineage-run a").first).to_have_text("strong")
    page.locator("#lineage-data a").click()
    expect(page.get_by_role("heading", name="breast cancer v1")).to_be_visible()

    _check(page, page.url.split("/sandbox/")[0] + "/sandbox/models/", "models")
    model_page = version_one.rsplit("/versions/", 1)[0] + "/"
    _check(page, model_page, "model page")
    _check(page, version_one, "version page")
    _check(page, version_one + "lineage/", "lineage page")
