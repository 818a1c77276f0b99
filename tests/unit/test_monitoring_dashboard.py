"""The monitoring dashboard: the page for its owner only, a clear state before any request, labels that count
only once they arrive, one line per version under a canary or a shadow, drift verdicts on every chart, the
panel's polling that stops when nothing runs, drift alerts acknowledged, and a query count that does not grow
with the log.

The deployment and its log are made directly in the database (the helpers below, which the metrics tests use
too): the dashboard reads no model file, so no model is trained."""

import datetime as dt
import itertools
import json
import re

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox.jobs.models import Job
from sandbox.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    DriftPolicy,
    DriftReport,
    Experiment,
    ModelVersion,
    MonitoringEvent,
    PredictionLog,
    RegisteredModel,
    Release,
    Run,
    TrafficRun,
)
from sandbox.monitoring import charts, selectors

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r'<script type="application/json" id="figure-[^"]+">(.*?)</script>', re.S)
_request_ids = itertools.count(1)


# --- helpers (imported by test_monitoring_metrics) ---------------------------------------------------------


def deployment_made(
    owner: User, *, name: str = "churn", strategy: str = "single", percent: int = 0, task: str = "classification"
) -> tuple[Deployment, ModelVersion, ModelVersion, Release]:
    """A live deployment of version 1 (with version 2 as its canary or shadow under those strategies)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    # The controls above the dashboard read the training data's profile: a small file of it.
    target = (lambda n: n % 2) if task == "classification" else (lambda n: n / 4)
    csv = "a,b,y\n" + "".join(f"{n},{n % 7},{target(n)}\n" for n in range(40))
    path = default_storage.save(f"datasets/{name}.csv", ContentFile(csv.encode()))
    schema = [{"name": "a", "dtype": "int64"}, {"name": "b", "dtype": "int64"}, {"name": "y", "dtype": "int64"}]
    dataset = Dataset.objects.create(owner=owner, name=f"{name} data", source="upload", task=task, target="y")
    data = DatasetVersion.objects.create(
        dataset=dataset, number=1, content_hash="0" * 64, rows=40, columns=3, file=path, schema=schema
    )
    experiment = Experiment.objects.create(owner=owner, name=f"{name} e", dataset=dataset)
    model = RegisteredModel.objects.create(owner=owner, name=f"{name} model")
    versions = []
    for number in (1, 2):
        run = Run.objects.create(
            experiment=experiment, owner=owner, dataset_version=data, name=f"r{number}",
            algorithm="logistic_regression", params={}, seed=number, status=Run.Status.SUCCEEDED,
        )  # fmt: skip
        version = ModelVersion.objects.create(
            registered_model=model, owner=owner, number=number, run=run, dataset_version=data,
            model_file=f"runs/{run.pk}/model.joblib", model_sha256="0" * 64,
            signature=[{"name": "a", "type": "long"}, {"name": "b", "type": "long"}],
        )  # fmt: skip
        versions.append(version)
    v1, v2 = versions
    candidate = v2 if strategy in ("canary", "shadow") else None
    deployment = Deployment.objects.create(
        owner=owner, name=name, registered_model=model, status=Deployment.Status.LIVE, strategy=strategy,
        stable_version=v1, candidate_version=candidate, canary_percent=percent,
    )  # fmt: skip
    release = Release.objects.create(
        deployment=deployment, owner=owner, number=1, status=Release.Status.LIVE, strategy=strategy, version=v1,
        stable_version=v1, candidate_version=candidate, canary_percent=percent, actor=owner,
    )  # fmt: skip
    Deployment.objects.filter(pk=deployment.pk).update(current_release=release, revision=1)
    deployment.refresh_from_db()
    return deployment, v1, v2, release


def logged(
    deployment: Deployment, release: Release, version: ModelVersion, *, at: dt.datetime, role: str = "stable",
    latency: float = 2.0, predictions: list | None = None, label: list | None = None,
    labelled_at: dt.datetime | None = None, status: str = "ok",
) -> dict:  # fmt: skip
    """One request log row's fields (for `log`)."""
    predictions = [0] if predictions is None else predictions
    return {
        "deployment": deployment, "release": release, "version": version, "request_id": f"{next(_request_ids):032x}",
        "role": role, "status": status, "latency_ms": latency, "row_count": len(predictions), "inputs": [],
        "predictions": predictions, "label": label, "labelled_at": labelled_at, "created_at": at,
    }  # fmt: skip


def log(rows: list[dict]) -> list[PredictionLog]:
    return PredictionLog.objects.bulk_create(PredictionLog(**row) for row in rows)


@pytest.fixture(autouse=True)
def _media(settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def figures(html: str) -> list[dict]:
    return [json.loads(block) for block in FIGURE.findall(html)]


def figure_of(html: str, key: str) -> dict:
    """The figure of the chart card `key` (traffic, latency, predictions, quality)."""
    card = re.search(rf'<section class="card" id="chart-{key}".*?</section>', html, re.S)
    assert card, f"no {key} chart"
    (figure,) = figures(card.group(0))
    return figure


def names(figure: dict) -> list[str]:
    return [trace["name"] for trace in figure["data"]]


def reference(deployment: Deployment) -> DatasetVersion:
    return deployment.stable_version.dataset_version


def report_made(deployment: Deployment, *, at: dt.datetime, drifted: bool | None, **fields: object) -> DriftReport:
    status = fields.pop("status", DriftReport.Status.DONE)
    return DriftReport.objects.create(
        owner=deployment.owner, deployment=deployment, reference=reference(deployment), status=status,
        window_end=at, dataset_drift=drifted, share_drifted=None if drifted is None else (0.6 if drifted else 0.1),
        **fields,
    )  # fmt: skip


@pytest.fixture
def made(learner: User) -> tuple[Deployment, ModelVersion, ModelVersion, Release]:
    return deployment_made(learner)


@pytest.fixture
def canary(learner: User) -> tuple[Deployment, ModelVersion, ModelVersion, Release]:
    return deployment_made(learner, name="canaried", strategy="canary", percent=20)


def minutes_ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


# --- the page ----------------------------------------------------------------------------------------------


def test_the_owner_gets_the_dashboard_and_the_deployment_page_links_to_it(made: tuple, learner_client: Client) -> None:
    deployment, v1, _, release = made
    log([logged(deployment, release, v1, at=minutes_ago(30 - n / 10), latency=1 + n % 5) for n in range(200)])
    page = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert {"traffic", "latency", "predictions"} <= {key for key in re.findall(r'id="chart-(\w+)"', html)}
    assert 'id="no-requests"' not in html
    assert "The charts read the newest 200 requests" in html
    assert "at most the newest 100,000 requests" in html
    detail = learner_client.get(f"/sandbox/deployments/{deployment.pk}/").content.decode()
    assert f'href="/sandbox/deployments/{deployment.pk}/monitor/" id="monitor-link"' in detail


def test_another_learner_finds_no_dashboard(made: tuple, other_learner: User, client: Client) -> None:
    deployment, *_ = made
    alert = MonitoringEvent.objects.create(deployment=deployment, kind=MonitoringEvent.Kind.ALERT, message="drift")
    client.force_login(other_learner)
    assert client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").status_code == 404
    assert client.get(f"/sandbox/deployments/{deployment.pk}/monitor/panel/", HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(f"/sandbox/deployments/{deployment.pk}/alerts/{alert.pk}/ack/").status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_an_anonymous_visitor_is_sent_to_sign_in(made: tuple, client: Client) -> None:
    deployment, *_ = made
    response = client.get(f"/sandbox/deployments/{deployment.pk}/monitor/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_deployment_without_requests_says_so_and_draws_no_chart(made: tuple, learner_client: Client) -> None:
    deployment, *_ = made
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert 'id="no-requests"' in html
    assert "No requests yet." in html
    assert not figures(html)
    assert 'id="no-reports"' in html
    assert 'id="no-events"' in html
    panel = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/panel/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 286
    assert "No requests yet." in panel.content.decode()


def test_a_deployment_still_deploying_has_a_dashboard_too(learner: User, learner_client: Client) -> None:
    deployment, *_ = deployment_made(learner)
    Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.PENDING, stable_version=None)
    assert learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").status_code == 200


# --- labels, and what they are counted against -------------------------------------------------------------


def test_a_label_counts_only_once_it_has_arrived(made: tuple, learner_client: Client) -> None:
    deployment, v1, _, release = made
    now = timezone.now()
    # Twenty right answers whose labels arrived, and twenty wrong ones whose labels arrive in ten minutes.
    past, future = now - dt.timedelta(minutes=1), now + dt.timedelta(minutes=10)
    arrived = [
        logged(deployment, release, v1, at=minutes_ago(5), predictions=[1], label=[1], labelled_at=past)
        for _ in range(20)
    ]
    waiting = [
        logged(deployment, release, v1, at=minutes_ago(4), predictions=[1], label=[0], labelled_at=future)
        for _ in range(20)
    ]
    log(arrived + waiting)
    board = selectors.dashboard(deployment=deployment, now=now)
    assert (board.labelled_rows, board.waiting) == (20, 20)
    (series,) = board.versions
    assert [value for value in series.accuracy if value is not None] == [1.0]
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert "True labels have arrived for 20 labelled rows; those of 20 requests are still on their way" in html
    accuracy = figure_of(html, "quality")["data"][0]
    assert [value for value in accuracy["y"] if value is not None] == [1.0]
    # Eleven minutes on, the late labels have arrived too and count against the predictions they label.
    later = selectors.dashboard(deployment=deployment, now=now + dt.timedelta(minutes=11))
    assert (later.labelled_rows, later.waiting) == (40, 0)
    assert sorted(value for value in later.versions[0].accuracy if value is not None) == [0.0, 1.0]


def test_no_label_yet_says_accuracy_will_come(made: tuple, learner_client: Client) -> None:
    deployment, v1, _, release = made
    later = timezone.now() + dt.timedelta(hours=1)
    log([logged(deployment, release, v1, at=minutes_ago(2), label=[0], labelled_at=later) for _ in range(5)])
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert 'id="no-labels"' in html
    assert "those of 5 requests are still on their way" in html
    assert 'id="chart-quality" aria-label=' not in html


def test_accuracy_and_macro_f1_per_bucket_agree_with_scikit_learn(made: tuple) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    deployment, v1, _, release = made
    rng = np.random.default_rng(3)
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=40)
    truth = rng.integers(0, 3, size=(600, 3))
    guess = np.where(rng.random((600, 3)) < 0.7, truth, rng.integers(0, 3, size=(600, 3)))
    rows = [
        logged(deployment, release, v1, at=start + dt.timedelta(seconds=4 * n), predictions=guess[n].tolist(),
               label=truth[n].tolist(), labelled_at=start)
        for n in range(600)
    ]  # fmt: skip
    log(rows)
    board = selectors.dashboard(deployment=deployment)
    (series,) = board.versions
    width = board.bucket_seconds
    assert width == 60
    for index, bucket_start in enumerate(board.starts):
        inside = [
            n
            for n in range(600)
            if bucket_start <= start + dt.timedelta(seconds=4 * n) < bucket_start + dt.timedelta(seconds=width)
        ]
        if not inside:
            assert series.accuracy[index] is None
            continue
        y, p = truth[inside].ravel(), guess[inside].ravel()
        assert series.accuracy[index] == pytest.approx(accuracy_score(y, p))
        assert series.f1[index] == pytest.approx(f1_score(y, p, average="macro"))
        assert series.labelled[index] == 3 * len(inside)


def test_the_latency_percentiles_are_numpys() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(size=1000)
    groups = rng.integers(0, 7, size=1000)
    groups[groups == 4] = 5  # group 4 is empty
    p50, p95 = selectors._quantiles(values, groups, 8, (0.5, 0.95))
    for group in range(8):
        chosen = values[groups == group]
        if not len(chosen):
            assert np.isnan(p50[group])
            assert np.isnan(p95[group])
        else:
            assert p50[group] == pytest.approx(np.percentile(chosen, 50))
            assert p95[group] == pytest.approx(np.percentile(chosen, 95))


def test_integer_latencies_take_the_one_key_sort_to_the_same_percentiles() -> None:
    rng = np.random.default_rng(8)
    values = rng.integers(0, 5_000_000, size=3000)
    groups = rng.integers(0, 9, size=3000)
    fast = selectors._quantiles(values, groups, 9, (0.5, 0.95))
    slow = selectors._quantiles(values.astype(float), groups, 9, (0.5, 0.95))
    for mine, theirs in zip(fast, slow, strict=True):
        assert mine == pytest.approx(theirs)


@pytest.mark.parametrize(
    "texts",
    [
        ["[0]", "[1]", "[0]", "[0]"],
        ["[0]", "", "[1]", "", "[12]", "[0]"],
        ["[3.25]", "[10.5]", "[3.25]", '["yes", "no"]', "", '["no"]', "[3.25]"],
        ["[" + ",".join(["1"] * n) + "]" for n in range(1, 90)] + [""],
    ],
)
def test_the_texts_of_each_request_are_told_apart_from_their_bytes(texts: list[str]) -> None:
    distinct, codes = selectors._codes(selectors.SEPARATOR.join(texts), len(texts))
    assert [distinct[code] for code in codes.tolist()] == texts
    assert len(distinct) == len(set(texts))


def test_a_request_logged_out_of_order_lands_in_the_nearest_bucket(made: tuple) -> None:
    deployment, v1, _, release = made
    log([logged(deployment, release, v1, at=minutes_ago(10 - n)) for n in range(10)])
    # Written last, but answered before all the others: its id is the newest, its time the oldest.
    log([logged(deployment, release, v1, at=minutes_ago(30))])
    board = selectors.dashboard(deployment=deployment)
    assert board.read == 11
    assert sum(series.requests for series in board.versions) == 11


@pytest.mark.parametrize("span", [0, 1, 59, 61, 600, 3599, 3 * 3600 + 7, 86400 * 3, 86400 * 400])
def test_buckets_are_at_most_sixty_and_as_narrow_as_that_allows(span: int) -> None:
    first = 1_700_000_000.3
    width = selectors.bucket_seconds(first, first + span)
    assert int((first + span) // width) - int(first // width) + 1 <= selectors.MAX_BUCKETS
    narrower = [step for step in selectors.BUCKET_STEPS if step < width]
    if narrower:
        assert int((first + span) // narrower[-1]) - int(first // narrower[-1]) + 1 > selectors.MAX_BUCKETS


# --- versions, drift markers -------------------------------------------------------------------------------


def test_a_canary_draws_a_line_per_version_on_every_chart(canary: tuple, learner_client: Client) -> None:
    deployment, v1, v2, release = canary
    rows = [
        logged(deployment, release, v2 if n % 5 == 0 else v1, role="canary" if n % 5 == 0 else "stable",
               at=minutes_ago(20 - n / 50), latency=8.0 if n % 5 == 0 else 2.0, predictions=[n % 2], label=[n % 2],
               labelled_at=minutes_ago(21))
        for n in range(500)
    ]  # fmt: skip
    log(rows)
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert names(figure_of(html, "traffic")) == ["v1 (stable)", "v2 (canary)"]
    assert names(figure_of(html, "latency")) == [
        "v1 (stable) p50",
        "v1 (stable) p95",
        "v2 (canary) p50",
        "v2 (canary) p95",
    ]
    assert names(figure_of(html, "quality")) == [
        "v1 (stable) accuracy",
        "v1 (stable) F1",
        "v2 (canary) accuracy",
        "v2 (canary) F1",
    ]
    predicted = names(figure_of(html, "predictions"))
    assert {"v1 (stable): 0", "v1 (stable): 1", "v2 (canary): 0"} <= set(predicted)
    # Colour is not the only sign: the versions' markers differ in shape.
    traffic = figure_of(html, "traffic")["data"]
    assert traffic[0]["marker"]["symbol"] != traffic[1]["marker"]["symbol"]
    board = selectors.dashboard(deployment=deployment)
    stable, canaried = board.versions
    assert (stable.requests, canaried.requests) == (400, 100)
    assert canaried.latest(canaried.p50)[1] == pytest.approx(8.0)
    caption = re.search(r'id="chart-latency-caption">([^<]*)<', html).group(1)
    assert "v2 (canary) p50 8 ms" in caption


def test_a_shadow_is_its_own_line(learner: User) -> None:
    deployment_made(learner, name="first")  # its versions take the first ids: the lines name numbers
    deployment, v1, v2, release = deployment_made(learner, name="shadowed", strategy="shadow")
    assert (v1.pk, v2.pk) != (1, 2)
    rows = []
    for n in range(50):
        at = minutes_ago(10 - n / 10)
        rows.append(logged(deployment, release, v1, at=at))
        rows.append(logged(deployment, release, v2, role="shadow", at=at, status="error" if n < 5 else "ok"))
    log(rows)
    board = selectors.dashboard(deployment=deployment)
    assert [series.label for series in board.versions] == ["v1 (stable)", "v2 (shadow)"]
    assert [series.errors for series in board.versions] == [0, 5]
    assert "v2 (shadow)" in names(json.loads(FIGURE.search(charts.traffic_chart(board).html).group(1)))


def test_drift_verdicts_are_markers_on_every_chart_and_reports_link_to_their_page(
    made: tuple, learner_client: Client
) -> None:
    deployment, v1, _, release = made
    log(
        [
            logged(deployment, release, v1, at=minutes_ago(60 - n / 10), label=[0], labelled_at=minutes_ago(90))
            for n in range(600)
        ]
    )
    drifted = report_made(deployment, at=minutes_ago(20), drifted=True)
    calm = report_made(deployment, at=minutes_ago(40), drifted=False)
    running = report_made(deployment, at=None, drifted=None, status=DriftReport.Status.PENDING)
    outside = report_made(deployment, at=minutes_ago(600), drifted=True)
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    drawn = re.findall(r'id="chart-(\w+)"', html)
    assert set(drawn) == {"traffic", "latency", "predictions", "quality"}
    for key in drawn:
        figure = figure_of(html, key)
        markers = {trace["name"]: trace for trace in figure["data"] if trace.get("yaxis") == "y2"}
        assert set(markers) == {"drift report: drift detected", "drift report: no drift"}
        assert markers["drift report: drift detected"]["x"] == [selectors.chart_time(drifted.window_end)]
        assert markers["drift report: no drift"]["x"] == [selectors.chart_time(calm.window_end)]
        # Shape as well as colour: a cross for drift, a ring for none.
        assert markers["drift report: drift detected"]["marker"]["symbol"] == "x"
        assert markers["drift report: no drift"]["marker"]["symbol"] == "circle-open"
        assert [shape["x0"] for shape in figure["layout"]["shapes"]] == [selectors.chart_time(drifted.window_end)]
    for report in (drifted, calm, running, outside):
        assert f'href="/sandbox/drift/{report.pk}/">#{report.pk}</a>' in html
    assert 'data-drifted="yes"' in html
    assert "2 reports in this span, 1 of them found drift" in html


# --- polling, alerts, the timeline -------------------------------------------------------------------------


def test_the_panel_polls_while_traffic_runs_and_stops_when_nothing_does(
    made: tuple, learner: User, learner_client: Client
) -> None:
    deployment, *_ = made
    job = Job.objects.create(owner=learner, kind="traffic", status=Job.Status.RUNNING, progress=40)
    TrafficRun.objects.create(owner=learner, deployment=deployment, job=job, requests=1000, rate=50, sent=400)
    url = f"/sandbox/deployments/{deployment.pk}/monitor/panel/"
    page = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert 'hx-trigger="monitor-refresh from:body, every 3s"' in page
    polled = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 200
    fragment = polled.content.decode()
    assert "<html" not in fragment
    assert "every 3s" in fragment
    assert "400 of 1000 requests sent" in fragment
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress=100)
    stopped = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert stopped.status_code == 286
    assert "every 3s" not in stopped.content.decode()
    assert 'data-polling="off"' in stopped.content.decode()


def test_a_running_drift_report_or_retraining_keeps_the_panel_polling(
    made: tuple, learner: User, learner_client: Client
) -> None:
    deployment, *_ = made
    url = f"/sandbox/deployments/{deployment.pk}/monitor/panel/"
    report = report_made(deployment, at=None, drifted=None, status=DriftReport.Status.PENDING)
    assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    DriftReport.objects.filter(pk=report.pk).update(status=DriftReport.Status.DONE, dataset_drift=False)
    assert learner_client.get(url, HTTP_HX_REQUEST="true").status_code == 286
    job = Job.objects.create(owner=learner, kind="retrain", status=Job.Status.QUEUED)
    DriftPolicy.objects.create(deployment=deployment, retrain_job=job)
    retraining = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert retraining.status_code == 200
    assert f'href="/sandbox/jobs/{job.pk}/">job #{job.pk}</a>' in retraining.content.decode()


def test_a_drift_alert_shows_until_acknowledged(made: tuple, learner: User, learner_client: Client) -> None:
    deployment, *_ = made
    other, *_ = deployment_made(learner, name="other")
    report = report_made(deployment, at=minutes_ago(1), drifted=True)
    alert = MonitoringEvent.objects.create(
        deployment=deployment, kind=MonitoringEvent.Kind.ALERT, message="Drift in 3 of 5 columns.", report=report
    )
    check = MonitoringEvent.objects.create(deployment=deployment, kind=MonitoringEvent.Kind.CHECK, message="checked")
    page = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert f'id="alert-{alert.pk}"' in page
    assert 'Acknowledge<span class="visually-hidden">' in page
    ack = f"/sandbox/deployments/{deployment.pk}/alerts/{alert.pk}/ack/"
    assert learner_client.get(ack).status_code == 405
    # Another deployment's path, or an event that is no alert, is no alert to acknowledge.
    assert learner_client.post(f"/sandbox/deployments/{other.pk}/alerts/{alert.pk}/ack/").status_code == 404
    assert learner_client.post(f"/sandbox/deployments/{deployment.pk}/alerts/{check.pk}/ack/").status_code == 404
    response = learner_client.post(ack)
    assert response.status_code == 302
    assert response["Location"] == f"/sandbox/deployments/{deployment.pk}/monitor/"
    alert.refresh_from_db()
    first = alert.acknowledged_at
    assert first is not None
    assert learner_client.post(ack).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at == first
    page = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert f'id="alert-{alert.pk}"' not in page
    assert f'id="event-{alert.pk}" data-kind="alert"' in page
    assert "(acknowledged" in page


def test_acknowledging_from_the_panel_answers_the_panel(made: tuple, learner_client: Client) -> None:
    deployment, *_ = made
    alert = MonitoringEvent.objects.create(deployment=deployment, kind=MonitoringEvent.Kind.ALERT, message="drift")
    response = learner_client.post(
        f"/sandbox/deployments/{deployment.pk}/alerts/{alert.pk}/ack/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("{#") or html.lstrip().startswith('<div id="monitor-panel"')
    assert f'id="alert-{alert.pk}"' not in html


def test_the_timeline_is_newest_first_with_links(made: tuple, learner: User, learner_client: Client) -> None:
    deployment, _, v2, _ = made
    report = report_made(deployment, at=minutes_ago(3), drifted=True)
    job = Job.objects.create(owner=learner, kind="retrain", status=Job.Status.SUCCEEDED)
    old = MonitoringEvent.objects.create(
        deployment=deployment, kind="alert", message="Drift found.", report=report, created_at=minutes_ago(3)
    )
    new = MonitoringEvent.objects.create(
        deployment=deployment, kind="canary", message="Version 2 is a 20 % canary.", job=job, version=v2,
        created_at=minutes_ago(1),
    )  # fmt: skip
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert html.index(f'id="event-{new.pk}"') < html.index(f'id="event-{old.pk}"')
    timeline = html[html.index('id="timeline"') :]
    assert f'href="/sandbox/drift/{report.pk}/">report #{report.pk}</a>' in timeline
    assert f'href="/sandbox/jobs/{job.pk}/">job #{job.pk}</a>' in timeline
    assert f'href="/sandbox/models/{v2.registered_model_id}/versions/2/">version 2</a>' in timeline


# --- a regression, the cap, the queries --------------------------------------------------------------------


def test_a_regression_charts_its_mean_prediction_and_error(learner: User, learner_client: Client) -> None:
    deployment, v1, _, release = deployment_made(learner, name="prices", task="regression")
    log([
        logged(deployment, release, v1, at=minutes_ago(5), predictions=[10.0, 12.0], label=[11.0, 11.0],
               labelled_at=minutes_ago(6))
        for _ in range(10)
    ])  # fmt: skip
    board = selectors.dashboard(deployment=deployment)
    (series,) = board.versions
    assert series.latest(series.mean)[1] == pytest.approx(11.0)
    assert series.latest(series.error_mae)[1] == pytest.approx(1.0)
    html = learner_client.get(f"/sandbox/deployments/{deployment.pk}/monitor/").content.decode()
    assert names(figure_of(html, "predictions")) == ["v1 (stable) mean"]
    assert names(figure_of(html, "quality")) == ["v1 (stable) MAE"]


def test_the_dashboard_reads_at_most_its_cap_and_says_so(made: tuple) -> None:
    deployment, v1, _, release = made
    log([logged(deployment, release, v1, at=minutes_ago(30 - n / 10)) for n in range(50)])
    board = selectors.dashboard(deployment=deployment, limit=20)
    assert (board.read, board.capped) == (20, True)
    assert sum(series.requests for series in board.versions) == 20
    assert "at most the newest 20 requests: older ones are left out" in board.window_text
    whole = selectors.dashboard(deployment=deployment, limit=50)
    assert (whole.read, whole.capped) == (50, False)


def test_a_full_window_read_along_the_table_gives_what_the_index_gives(
    made: tuple, learner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment, v1, v2, release = made
    other, o1, _, other_release = deployment_made(learner, name="other")
    rows = []
    for n in range(60):
        rows.append(logged(deployment, release, v2 if n % 3 else v1, at=minutes_ago(30 - n / 2), latency=n % 7,
                           predictions=[n % 2], label=[1], labelled_at=minutes_ago(40)))  # fmt: skip
        if n % 10 == 0:  # another deployment's requests between this one's
            rows.append(logged(other, other_release, o1, at=minutes_ago(30 - n / 2)))
    log(rows)
    window = selectors.window_find(deployment=deployment, limit=50)
    assert window.dense
    along = selectors.dashboard(deployment=deployment, limit=50)
    monkeypatch.setattr(selectors, "DENSE", 0)
    assert not selectors.window_find(deployment=deployment, limit=50).dense
    indexed = selectors.dashboard(deployment=deployment, limit=50)
    assert along == indexed
    assert along.read == 50


def test_predictions_past_their_cap_are_left_out_and_said_so(made: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment, v1, _, release = made
    log([logged(deployment, release, v1, at=minutes_ago(10 - n / 10), predictions=[1] * 10) for n in range(30)])
    monkeypatch.setattr(selectors, "MAX_PREDICTION_ROWS", 95)
    board = selectors.dashboard(deployment=deployment)
    assert board.predictions_capped
    assert "Predictions and accuracy come from the newest" in board.window_text
    assert board.versions[0].requests == 30


def _queries(client: Client, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **headers).status_code in (200, 286)
    return len(captured.captured_queries)


def test_the_dashboards_queries_are_pinned_and_do_not_grow_with_the_log(
    canary: tuple, learner: User, learner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The controls above the panel are another module's; their queries are theirs to count.
    from sandbox.monitoring import dashboard_views

    monkeypatch.setattr(dashboard_views, "_controls", lambda request, deployment: {})
    deployment, v1, v2, release = canary
    page = f"/sandbox/deployments/{deployment.pk}/monitor/"
    panel = f"{page}panel/"
    log([logged(deployment, release, v1, at=minutes_ago(5)) for _ in range(5)])
    report_made(deployment, at=minutes_ago(4), drifted=True)
    MonitoringEvent.objects.create(deployment=deployment, kind="alert", message="drift", version=v1)
    learner_client.get(page)  # warm: the learner's presence written, "active now" counted, as a running site has them
    small = (_queries(learner_client, page), _queries(learner_client, panel, HTTP_HX_REQUEST="true"))
    log([
        logged(deployment, release, v2 if n % 3 else v1, role="canary" if n % 3 else "stable", at=minutes_ago(n / 10),
               label=[0], labelled_at=minutes_ago(0.5))
        for n in range(2000)
    ])  # fmt: skip
    for n in range(5):
        report_made(deployment, at=minutes_ago(n), drifted=bool(n % 2))
        MonitoringEvent.objects.create(deployment=deployment, kind="alert", message=f"drift {n}", version=v2)
    large = (_queries(learner_client, page), _queries(learner_client, panel, HTTP_HX_REQUEST="true"))
    # The session, the user and the learner's standing (every page's; the page also counts the learner's unread
    # community notifications for the navigation, which the fragment does not show), then the deployment, its
    # drift reports, the log's window (one query of seeks; a full window of MAX_REQUESTS asks its oldest request's
    # time too), the log in one aggregate, its versions' numbers, traffic runs, the policy's retraining, open alerts
    # and the timeline; the page asks nothing beyond the panel's.
    assert small == large == (13, 12)
