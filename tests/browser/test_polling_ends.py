"""Polls end with their object: the run page's badge follows the run, and the page stops asking."""

import time

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Run
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.browser


def _log_in(page: Page, live_server: object, user: User) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()


def test_the_run_page_badge_follows_the_run_and_polling_stops_when_it_ends(
    live_server: object, celery_worker: object, page: Page, learner: User, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="polls", dataset=dataset)
    config = tracking.RunConfig("random_forest", {"n_estimators": 60}, training.Preparation(), training.Split(), 7)
    _log_in(page, live_server, learner)
    run = tracking.run_create(experiment=experiment, version=dataset.versions.get(), config=config)

    polls = []
    page.on("request", lambda request: polls.append(time.monotonic()) if f"/runs/{run.pk}/" in request.url else None)
    page.goto(f"{live_server.url}/sandbox/runs/{run.pk}/")
    badge = page.locator("#run-status")
    expect(badge).to_have_text("Succeeded", timeout=60_000)
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    expect(page.locator("#run-body")).not_to_have_attribute("hx-trigger", "every 700ms")
    expect(page.locator("#metrics-heading")).to_be_visible()

    settled = len(polls)
    page.wait_for_timeout(2_000)
    assert len(polls) == settled, f"the page asked {len(polls) - settled} more times after the run ended"


def test_the_runs_table_stops_polling_once_no_run_is_active(
    live_server: object, celery_worker: object, page: Page, learner: User, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    experiment = Experiment.objects.create(owner=learner, name="table polls", dataset=dataset)
    config = tracking.RunConfig("logistic_regression", {}, training.Preparation(), training.Split(), 3)
    _log_in(page, live_server, learner)
    tracking.run_create(experiment=experiment, version=dataset.versions.get(), config=config)

    polls = []
    table_url = f"/sandbox/experiments/{experiment.pk}/"
    page.on("request", lambda request: polls.append(1) if table_url in request.url else None)
    page.goto(live_server.url + table_url)
    expect(page.locator("tr.run--succeeded")).to_have_count(1, timeout=60_000)
    page.wait_for_timeout(500)
    settled = len(polls)
    page.wait_for_timeout(4_500)
    assert len(polls) == settled, "the runs table kept polling after its last run ended"
