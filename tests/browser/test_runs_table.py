"""The runs table as a learner on a 1366 px laptop meets it: columns in view, sorting, choosing columns."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox.datasets import services as dataset_services
from sandbox.models import Dataset, Experiment, Run

pytestmark = pytest.mark.browser
PASSWORD = "a long passphrase 42"
SMALL_CHURN = {"rows": 200, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}
NINE_METRICS = [
    "val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc", "val_log_loss",
    "cv_f1_mean", "cv_f1_std", "val_balanced_accuracy",
]  # fmt: skip
SWEEP_NAME = "random-forest max_depth=12 min_samples_leaf=20 n_estimators=500"


@pytest.fixture
def learner_page(live_server: object, page: Page, django_user_model: type) -> Page:
    django_user_model.objects.create_user(username="laptop", password=PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("laptop")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Sandbox")
    return page


@pytest.fixture
def churn(learner_page: Page, settings: object, tmp_path: Path) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    owner = User.objects.get(username="laptop")
    return dataset_services.dataset_create_churn(owner=owner, name="churn", settings=SMALL_CHURN)


@pytest.fixture
def wide(churn: Dataset) -> Experiment:
    """Three params and nine metrics, and a sweep run whose long name says what varied."""
    experiment = Experiment.objects.create(owner=churn.owner, name="wide", dataset=churn)
    for index, (name, depth) in enumerate([("forest-a", 3), ("forest-b", 5), (SWEEP_NAME, 12)]):
        Run.objects.create(
            experiment=experiment, owner=churn.owner, dataset_version=churn.versions.get(), name=name,
            algorithm="random_forest", seed=1, status=Run.Status.SUCCEEDED,
            params={"max_depth": depth, "min_samples_leaf": 20, "n_estimators": 500},
            metrics={metric: 0.5 + index / 10 + m / 1000 for m, metric in enumerate(NINE_METRICS)},
        )  # fmt: skip
    return experiment


def _header(page: Page, name: str) -> object:
    return page.locator("#runs-table thead th", has=page.get_by_role("link", name=name, exact=True))


def _in_view(page: Page, locator: object) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


def test_at_1366_px_the_metric_columns_are_in_view_beside_a_name_that_stays(
    live_server: object, learner_page: Page, wide: Experiment
) -> None:
    page = learner_page
    page.goto(f"{live_server.url}/sandbox/experiments/{wide.pk}/")
    metric_headers = page.locator("#runs-table thead th.metric")
    expect(metric_headers).to_have_count(9)
    assert _in_view(page, metric_headers.first)
    assert all(_in_view(page, header) for header in metric_headers.all())
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # A sweep run's name is shown whole, wrapped, and nothing of it is cut off.
    name = page.locator("#runs-table tbody th.runs__name", has_text="random-forest max_depth=12")
    expect(name.get_by_role("link")).to_have_text(SWEEP_NAME)
    assert name.evaluate("cell => cell.scrollWidth <= cell.clientWidth")

    # More columns than fit: the table scrolls under the run's name, which stays put.
    page.locator("summary", has_text="Columns").click()
    for param in ("max_depth", "min_samples_leaf", "n_estimators"):
        page.get_by_role("checkbox", name=param, exact=True).check()
    page.get_by_role("button", name="Show these columns").click()
    expect(_header(page, "n_estimators")).to_be_visible()
    expect(page).to_have_url(re.compile(r"cols=.*params\.max_depth"))
    assert _in_view(page, metric_headers.first)
    scroller = page.locator("#runs-table .table-scroll")
    scroller.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    assert scroller.evaluate("box => box.scrollLeft") > 0
    left = scroller.bounding_box()["x"]
    assert abs(name.bounding_box()["x"] - left) < 2
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # The choice is in the URL: a reload, and the table's own links, keep it.
    page.reload()
    expect(_header(page, "min_samples_leaf")).to_be_visible()
    _header(page, "val_f1").get_by_role("link").click()
    expect(_header(page, "n_estimators")).to_be_visible()
    expect(page.locator("summary", has_text="Columns")).to_contain_text("12 of 12 shown")


def test_a_sorted_column_shows_its_direction_and_a_second_click_flips_it(
    live_server: object, learner_page: Page, wide: Experiment
) -> None:
    page = learner_page
    page.goto(f"{live_server.url}/sandbox/experiments/{wide.pk}/")
    header = _header(page, "val_f1")
    expect(header).not_to_have_attribute("aria-sort", re.compile("."))
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(header).to_contain_text("▼")
    expect(page.locator("#runs-table tbody th.runs__name").first).to_contain_text("random-forest max_depth=12")
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(header).to_contain_text("▲")
    expect(page.locator("#runs-table tbody th.runs__name").first).to_contain_text("forest-a")
    expect(page.locator("#runs-table th[aria-sort]")).to_have_count(1)


def test_a_filter_on_a_key_no_run_has_says_so(live_server: object, learner_page: Page, wide: Experiment) -> None:
    page = learner_page
    page.goto(f"{live_server.url}/sandbox/experiments/{wide.pk}/")
    page.get_by_label("Filter").fill("params.max_dept = 5")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#runs-table [role=alert]")).to_have_text(
        "No run in this experiment has a parameter called 'max_dept'; the parameters are "
        "algorithm, max_depth, min_samples_leaf, n_estimators."
    )
    page.get_by_label("Filter").fill("params.algorithm = random_forest and params.max_depth >= 5")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)


def test_train_on_it_preselects_the_dataset_it_came_from(
    live_server: object, learner_page: Page, churn: Dataset
) -> None:
    page = learner_page
    second = dataset_services.dataset_create_churn(owner=churn.owner, name="churn-noisy", settings=SMALL_CHURN)
    page.goto(f"{live_server.url}/sandbox/datasets/{second.pk}/")
    page.get_by_role("link", name="Train on it in an experiment").click()
    expect(page.get_by_label("Dataset")).to_have_value(str(second.pk))
    expect(page.get_by_label("Name")).to_have_value("churn-noisy experiment")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="churn-noisy experiment")).to_be_visible()
    expect(page.locator("main")).to_contain_text("On churn-noisy")


def test_cards_that_are_links_look_like_links(live_server: object, learner_page: Page, wide: Experiment) -> None:
    page = learner_page
    for path, name in (("/sandbox/", "Experiments"), ("/sandbox/experiments/", "wide")):
        page.goto(live_server.url + path)
        card = page.locator("a.tile", has_text=name).first
        title = card.locator(".tile__title")
        assert card.evaluate("card => getComputedStyle(card).cursor") == "pointer"
        assert "underline" in title.evaluate("title => getComputedStyle(title).textDecorationLine")
        assert title.evaluate("t => getComputedStyle(t).color") != card.evaluate("c => getComputedStyle(c).color")
        resting = card.evaluate("card => getComputedStyle(card).borderTopColor")
        card.hover()
        expect(card).not_to_have_css("border-top-color", resting)
    page.locator("a.tile", has_text="wide").click()
    expect(page.get_by_role("heading", name="wide", exact=True)).to_be_visible()
