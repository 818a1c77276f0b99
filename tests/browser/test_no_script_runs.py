"""Text a learner types (names, tags, notes, CSV headers and values) is shown as text on every page
it reaches, charts included: no payload runs, and none even reaches the browser as markup."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.tracking import services as tracking
from tests.browser.test_layout_and_accessibility import CHARTS_DRAWN, RECORD_CSP_VIOLATIONS

pytestmark = pytest.mark.browser

PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">',
    '<a href="javascript:window.__xss=4">link</a>',
]
PAYLOAD = " ".join(PAYLOADS)


def _csv() -> bytes:
    header = "tenure,plan<img src=x onerror=window.__xss=5>,churned\n"
    rows = [f"{n},{PAYLOADS[n % 4].replace(',', ' ')},{n % 2}\n" for n in range(60)]
    return (header + "".join(rows)).encode()


def test_typed_text_never_runs_as_script(
    page: Page, live_server: object, learner: User, celery_eager: None, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_upload(owner=learner, name=PAYLOAD[:100], raw=_csv(), target="churned")
    experiment = tracking.experiment_create(owner=learner, name=PAYLOAD[:100], dataset=dataset)
    version = dataset.versions.get()
    runs = [
        tracking.run_create(
            experiment=experiment, version=version, name=f"{n} {PAYLOADS[n]}"[:100],
            config=tracking.RunConfig("logistic_regression", {"C": c}, training.Preparation(), training.Split(), 1),
        )
        for n, c in enumerate((0.5, 1.0))
    ]  # fmt: skip
    for run in runs:
        run.refresh_from_db()
        tracking.run_set_tag(run=run, key=PAYLOADS[0][:50], value=PAYLOADS[1])
        tracking.run_set_note(run=run, note=PAYLOAD)

    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    pages = [
        "/sandbox/datasets/",
        f"/sandbox/datasets/{dataset.pk}/",
        f"/sandbox/datasets/{dataset.pk}/v1/",
        "/sandbox/experiments/",
        f"/sandbox/experiments/{experiment.pk}/",
        f"/sandbox/runs/{runs[0].pk}/",
        f"/sandbox/experiments/{experiment.pk}/compare/?runs={runs[0].pk}&runs={runs[1].pk}",
    ]
    for path in pages:
        page.goto(live_server.url + path)
        page.wait_for_function(CHARTS_DRAWN)
        page.wait_for_timeout(200)
        assert page.evaluate("window.__xss") is None, path
        assert page.evaluate("window.__cspViolations") == [], path
        # Nothing typed became an element: every payload element is absent from the document.
        assert page.locator("img[src=x], svg[onload], a[href^=javascript]").count() == 0, path
        assert page.get_by_text("window.__xss", exact=False).count() > 0, f"{path} does not show the typed text"
