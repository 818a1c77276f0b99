import re

import pytest
from playwright.sync_api import Page, expect

from lessons.services import content_sync
from tests.browser.test_first_job import SCREENSHOTS

pytestmark = pytest.mark.browser


def _train(page: Page, algorithm: str, **params: str) -> None:
    # Choosing an algorithm swaps in its parameter fields; fill them only once the swap is done.
    # htmx must have read the page first, or the change goes unheard: it does so before "load".
    page.wait_for_load_state("load")
    with page.expect_response(lambda r: "fragment=params" in r.url):
        page.get_by_label("Algorithm", exact=True).first.select_option(algorithm)
    page.wait_for_load_state("networkidle")
    # The sweep form beside it has fields with the same labels.
    form = page.locator("#run-form")
    for name, value in params.items():
        expect(form.get_by_label(name, exact=True)).to_be_visible()
        form.get_by_label(name, exact=True).fill(value)
    page.locator("#train-run").click()
    progress = page.locator("#run-body progress")
    body = page.locator("#run-body")
    # The run page shows a live progress bar until the worker finishes.
    expect(progress.or_(page.locator("#run-body[data-status=succeeded]"))).to_be_visible()
    expect(body).to_have_attribute("data-status", "succeeded", timeout=60_000)
    page.locator(".breadcrumb a").nth(1).click()


def test_a_learner_versions_data_tracks_three_runs_compares_replays_and_meets_a_challenge(
    live_server: object, celery_worker: object, page: Page, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    content_sync()
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Username").fill("tracker")
    page.get_by_label("Password", exact=True).fill("a long passphrase 42")
    page.get_by_label("Password confirmation").fill("a long passphrase 42")
    page.get_by_role("button", name="Sign up").click()

    # Version the churn data twice.
    page.goto(live_server.url + "/sandbox/datasets/")
    churn = page.locator("section", has=page.get_by_role("heading", name="Synthetic churn"))
    churn.get_by_label("Rows").fill("800")
    churn.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("created with version 1")).to_be_visible()
    page.get_by_label("Noise").fill("0.15")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text(re.compile(r"Saved version 2 \([0-9a-f]{12}\)"))).to_be_visible()
    expect(page.locator("#v1 code")).not_to_have_text(page.locator("#v2 code").inner_text())

    # Three runs with different parameters.
    page.get_by_role("link", name="Train on it in an experiment").click()
    expect(page.get_by_label("Name")).to_have_value("customer churn experiment")
    page.get_by_label("Name").fill("churn baseline")
    page.get_by_role("button", name="Create").click()
    _train(page, "logistic_regression", C="0.5")
    _train(page, "random_forest", n_estimators="30", max_depth="6")
    _train(page, "decision_tree", max_depth="4")
    expect(page.locator("tr.run--succeeded")).to_have_count(3)
    # Six params beside six metrics are more than fit: the params wait in the column chooser.
    expect(page.locator("#runs-table thead")).not_to_contain_text("max_iter")
    page.locator("summary", has_text="Columns").click()
    page.get_by_role("checkbox", name="C", exact=True).check()
    page.get_by_role("button", name="Show these columns").click()
    # The swapped-in table has the C column (a metric could read 0.5… before it arrives).
    expect(page.locator("#runs-table thead").get_by_role("link", name="C", exact=True)).to_be_visible()
    expect(page.locator("tbody tr", has_text="logistic")).to_contain_text("0.5")

    # Compare them with the differences highlighted.
    for box in page.locator("input[name=runs]").all():
        box.check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", name="Compare 3 runs")).to_be_visible()
    expect(page.locator("tr.is-different", has_text="algorithm")).to_be_visible()
    same = page.locator("tr.is-same", has_text="seed")
    expect(same).to_be_visible()
    page.get_by_label("Show only differences").check()
    expect(same).to_be_hidden()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    # Three algorithms share no param: the parallel chart has an algorithm axis and no "None" ticks.
    axis_text = page.locator(".js-plotly-plot").first.evaluate(
        "plot => [...plot.querySelectorAll('text')].map(text => text.textContent)"
    )
    assert "algorithm" in axis_text
    assert "None" not in axis_text
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "compare.png", full_page=True)

    # Replay one with identical metrics.
    page.locator("thead a").first.click()
    page.get_by_role("button", name="Replay this run").click()
    expect(page.locator("#run-body")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator(".replay-result")).to_contain_text("metrics match exactly")

    # The data-versioning and tracking challenges are met (free roam opens their stages to look).
    page.goto(live_server.url + "/accounts/profile/")
    page.get_by_label("Free roam").check()
    page.get_by_role("button", name="Save").click()
    for stage in ("data-collection", "experiment-tracking"):
        page.goto(f"{live_server.url}/map/{stage}/")
        steps = page.locator(".completion .checklist li")
        expect(steps.nth(1)).to_have_class("done")
        expect(steps.nth(2)).to_have_class("done")
