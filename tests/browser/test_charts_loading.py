"""plotly.js loads only where a chart is drawn, after the page is parsed, and never holds up its first paint.

base.html names plotly.js (and the chart template) in meta tags; static/js/site.js inserts the script
element when it finds a chart box, in the page or in a fragment htmx swaps in. To show that the first
paint does not wait for it, plotly.js is served a second and a half late: the page must be parsed and
painted before it arrives, and its charts must still be drawn, with the shared template, once it does.
"""

import time

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, Route, expect

from sandbox.datasets import services as dataset_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.ml import training
from sandbox.models import Experiment, Job, Run
from tests.browser.test_layout_and_accessibility import CHARTS_DRAWN, RECORD_CSP_VIOLATIONS

pytestmark = pytest.mark.browser

PLOTLY_DELAY_MS = 1500
TIMINGS = """() => {
  const navigation = performance.getEntriesByType('navigation')[0];
  const plotly = performance.getEntriesByType('resource').find(e => e.name.includes('plotly-strict'));
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const script = document.querySelector('script[src*="plotly-strict"]');
  return {
    parsed: navigation.domContentLoadedEventStart,
    painted: paint ? paint.startTime : null,
    requested: plotly ? plotly.startTime : null,
    arrived: plotly ? plotly.responseEnd : null,
    async: script ? script.async : null,
    colorway: document.querySelector('.js-plotly-plot')._fullLayout.colorway[0],
  };
}"""


def _log_in(page: Page, live_server: object, user: User) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".user-menu summary")).to_have_text(user.username)


def _plotly_requests(page: Page) -> list[str]:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if "plotly" in request.url else None)
    return requested


def _late(route: Route) -> None:
    time.sleep(PLOTLY_DELAY_MS / 1000)
    route.continue_()


@pytest.fixture
def finished_run(learner: User, settings: object, tmp_path: object) -> Run:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="charts", dataset=dataset)
    return Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="drawn",
        algorithm="logistic_regression", params={"C": 1.0, "max_iter": 200}, seed=1, status=Run.Status.SUCCEEDED,
        preparation=training.Preparation().as_dict(), metrics={"val_f1": 0.9},
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
        charts={"labels": ["0", "1"], "confusion": [[40, 3], [2, 69]], "importances": [["radius", 0.4]],
                "roc": {"fpr": [0.0, 0.05, 1.0], "tpr": [0.0, 0.9, 1.0]}},
    )  # fmt: skip


def test_a_run_page_is_parsed_and_painted_before_plotly_arrives_and_then_draws_its_charts(
    live_server: object, page: Page, learner: User, finished_run: Run
) -> None:
    _log_in(page, live_server, learner)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    requested = _plotly_requests(page)
    page.route("**/plotly-strict*.js", _late)
    page.goto(f"{live_server.url}/sandbox/runs/{finished_run.pk}/")
    expect(page.locator("#metrics-heading")).to_be_visible()
    page.wait_for_function(CHARTS_DRAWN, timeout=15_000)
    assert page.locator(".js-plotly-plot").count() == 3
    timings = page.evaluate(TIMINGS)
    assert timings["async"] is True, "plotly.js was not inserted by site.js"
    assert timings["requested"] >= timings["parsed"], timings
    assert timings["painted"] is not None
    assert timings["painted"] < timings["arrived"], timings
    assert timings["arrived"] - timings["painted"] > PLOTLY_DELAY_MS / 2, timings
    assert timings["colorway"] == "#636efa", "the plotly_white template was not applied"
    assert len([url for url in requested if "plotly-strict" in url]) == 1
    assert page.evaluate("window.__cspViolations") == []


def test_a_page_without_a_chart_never_asks_for_plotly(live_server: object, page: Page, learner: User) -> None:
    requested = _plotly_requests(page)
    _log_in(page, live_server, learner)
    for path in ("/sandbox/", "/sandbox/experiments/", "/sandbox/datasets/", "/glossary/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
    assert requested == []
    assert page.locator('meta[name="plotly-src"]').count() == 1


def test_a_chart_swapped_in_by_htmx_loads_plotly_then_and_is_drawn(
    live_server: object, page: Page, learner: User
) -> None:
    job = Job.objects.create(owner=learner, kind=FIRST_MODEL, status=Job.Status.RUNNING, progress=40)
    _log_in(page, live_server, learner)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    requested = _plotly_requests(page)
    page.goto(f"{live_server.url}/sandbox/jobs/{job.pk}/")
    expect(page.locator("article.job")).to_have_attribute("data-status", "running")
    page.wait_for_timeout(1000)  # a poll or so while the job runs: no chart, so no plotly
    assert requested == []

    epochs = [{"epoch": n, "train_accuracy": 0.9, "validation_accuracy": 0.88 + n / 100} for n in (1, 2, 3)]
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, progress=100, result={"epochs": epochs, "test_accuracy": 0.9}
    )
    expect(page.locator("article.job")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    page.wait_for_function(f"() => document.querySelector('.plotly-graph-div') && ({CHARTS_DRAWN})()", timeout=15_000)
    assert len([url for url in requested if "plotly-strict" in url]) == 1
    assert page.evaluate("window.__cspViolations") == []
