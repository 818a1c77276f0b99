"""The traffic simulator's scenarios, its job through the real serving path, drift reports on logged requests, and
the drift policy's loop: drift detected, retrain, gate, canary, promotion, on the timeline."""

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from sandbox.datasets.selectors import version_frame
from sandbox.jobs.models import Job
from sandbox.ml.datasets import load_builtin
from sandbox.models import ApiToken, Deployment, DriftPolicy, DriftReport, ModelVersion, PredictionLog, TrafficRun
from sandbox.monitoring import services, traffic
from sandbox.monitoring.models import MonitoringEvent
from tests.unit import test_serving_setup as setup

cancer, jobs_now, live, v1 = setup.cancer, setup.jobs_now, setup.live, setup.v1

pytestmark = pytest.mark.django_db

FEATURE = "mean radius"


def _frame() -> pd.DataFrame:
    return load_builtin("breast_cancer")


def _inputs(frame: pd.DataFrame) -> list[str]:
    return [name for name in frame.columns if name != "target"]


# --- the scenarios, pure ---------------------------------------------------------------------------------


def test_no_drift_draws_training_rows_as_they_are() -> None:
    frame = _frame()
    made = traffic.generate(frame, target="target", inputs=_inputs(frame), plan=traffic.Plan(requests=300, seed=1))
    assert made.rows.shape == (300, 30)
    assert not made.strength.any()
    merged = made.rows.merge(frame, on=_inputs(frame), how="left")
    assert (merged["target"].to_numpy() == made.labels).all()


def test_data_drift_shifts_the_feature_from_its_point_on_and_keeps_the_labels() -> None:
    frame = _frame()
    plan = traffic.Plan(scenario="data", drift_from=200, settings={"shift": {FEATURE: 2.0}}, requests=1000, seed=3)
    made = traffic.generate(frame, target="target", inputs=_inputs(frame), plan=plan)
    spread = frame[FEATURE].std()
    before, after = made.rows[FEATURE][:200], made.rows[FEATURE][200:]
    assert abs(before.mean() - frame[FEATURE].mean()) < 0.3 * spread
    assert abs(after.mean() - frame[FEATURE].mean() - 2 * spread) < 0.3 * spread
    assert made.rows["mean texture"].std() == pytest.approx(frame["mean texture"].std(), rel=0.2)


def test_gradual_drift_grows_over_its_ramp() -> None:
    plan = traffic.Plan(scenario="data", onset="gradual", drift_from=100, ramp=100, requests=400)
    s = traffic.strength(plan)
    assert s[99] == 0
    assert s[149] == pytest.approx(0.5)
    assert s[199] == 1
    assert s[399] == 1


def test_concept_drift_swaps_labels_only_where_the_feature_is_high_and_leaves_inputs_alone() -> None:
    frame = _frame()
    plan = traffic.Plan(scenario="concept", settings={"feature": FEATURE}, requests=2000, seed=5)
    made = traffic.generate(frame, target="target", inputs=_inputs(frame), plan=plan)
    merged = made.rows.merge(frame, on=_inputs(frame), how="left")
    high = (made.rows[FEATURE] > frame[FEATURE].median()).to_numpy()
    assert (merged["target"].to_numpy()[high] != made.labels[high]).all()
    assert (merged["target"].to_numpy()[~high] == made.labels[~high]).all()


def test_label_drift_moves_the_class_balance() -> None:
    frame = _frame()
    plan = traffic.Plan(scenario="label", settings={"balance": {"0": 0.9, "1": 0.1}}, requests=2000, seed=7)
    made = traffic.generate(frame, target="target", inputs=_inputs(frame), plan=plan)
    assert (made.labels == 0).mean() == pytest.approx(0.9, abs=0.03)
    assert (frame["target"] == 0).mean() == pytest.approx(0.37, abs=0.01)


def test_a_broken_column_arrives_empty_at_its_share() -> None:
    frame = _frame()
    plan = traffic.Plan(drift_from=100, settings={"nulls": {FEATURE: 0.5}}, requests=1100, seed=9)
    made = traffic.generate(frame, target="target", inputs=_inputs(frame), plan=plan)
    empty = made.rows[FEATURE].isna().to_numpy()
    assert not empty[:100].any()
    assert empty[100:].mean() == pytest.approx(0.5, abs=0.06)
    assert traffic.records(made.rows.iloc[empty.nonzero()[0][:1]])[0][FEATURE] is None


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (traffic.Plan(scenario="data", settings={"shift": {"nope": 1}}), "not an input"),
        (traffic.Plan(scenario="concept", settings={"feature": ""}), "not an input"),
        (traffic.Plan(scenario="label", settings={"balance": {"7": 1}}), "not a class"),
        (traffic.Plan(scenario="label", settings={"balance": {"0": 0}}), "above 0"),
        (traffic.Plan(requests=0), "between 1 and"),
    ],
)
def test_a_scenario_the_data_cannot_take_is_refused_in_words(plan: traffic.Plan, message: str) -> None:
    frame = _frame()
    with pytest.raises(traffic.ScenarioError, match=message):
        traffic.generate(frame, target="target", inputs=_inputs(frame), plan=plan)


# --- the job, through the endpoint ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests send at up to 5,000 requests a second: what they check is what is sent, not how fast."""
    monkeypatch.setattr(traffic, "MAX_RATE", 5000.0)


def _send(jobs_now: Callable, learner: User, deployment: Deployment, **kwargs: object) -> TrafficRun:
    options = {"requests": 120, "rate": 5000.0, "label_delay": 0, "seed": 1, **kwargs}
    run = jobs_now(services.traffic_start, owner=learner, deployment=deployment, **options)
    run.refresh_from_db()
    return run


def test_a_traffic_job_sends_every_request_through_the_endpoint_with_labels_that_arrive_late(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    run = _send(jobs_now, learner, live, label_delay=600)
    assert run.job.status == Job.Status.SUCCEEDED, run.job.error
    assert (run.sent, run.answered, run.refused) == (120, 120, 0)
    logs = PredictionLog.objects.filter(deployment=live).order_by("pk")
    assert logs.count() == 120
    first = logs.first()
    assert first.role == "stable"
    assert len(first.label) == 1
    assert first.labelled_at - first.created_at == timedelta(seconds=600)
    assert (run.first_log_id, run.last_log_id) == (first.pk, logs.last().pk)
    # The simulator called with a token of the learner's own, revoked when it stopped.
    token = ApiToken.objects.get(owner=learner)
    assert token.revoked_at is not None
    assert "Simulator" not in token.name
    # Labels 600 s away have not arrived: the window holds none.
    frame, span = services.window_frame(live, window=500, inputs=[c["name"] for c in live.stable_version.signature])
    assert span["requests"] == 120
    assert frame["__label__"].isna().all()
    assert MonitoringEvent.objects.filter(deployment=live, kind="traffic").count() == 1


def test_the_simulated_predictions_are_the_endpoints_own(learner: User, live: Deployment, jobs_now: Callable) -> None:
    from sandbox.registry import artifacts

    _send(jobs_now, learner, live, requests=30)
    pipeline = artifacts.model_load(live.stable_version)
    for log in PredictionLog.objects.filter(deployment=live)[:10]:
        row = pd.DataFrame(log.inputs)
        assert log.predictions == pipeline.predict(row).tolist()


def test_a_bad_traffic_request_is_refused_and_nothing_is_queued(learner: User, live: Deployment) -> None:
    cases = [
        ({"requests": 0, "rate": 10}, "between 1 and"),
        ({"requests": 100, "rate": 100_000}, "rate"),
        ({"requests": 10_000, "rate": 50}, "would take 200 seconds, and a job may run for 120"),
        ({"requests": 100, "rate": 10, "scenario": "data", "drift_from": 500}, "after the last"),
        ({"requests": 100, "rate": 10, "scenario": "data", "settings": {"shift": {"nope": 1}}}, "not an input"),
    ]
    for options, message in cases:
        with pytest.raises(services.MonitoringRefused, match=message):
            services.traffic_start(owner=learner, deployment=live, **options)
    assert not TrafficRun.objects.exists()
    assert not Job.objects.filter(kind=services.TRAFFIC).exists()


def test_another_learners_endpoint_takes_no_traffic(live: Deployment, other_learner: User) -> None:
    with pytest.raises(services.MonitoringRefused) as refused:
        services.traffic_start(owner=other_learner, deployment=live, requests=10, rate=10)
    assert refused.value.status == 404


def test_a_traffic_job_stopped_mid_way_leaves_a_consistent_log_and_a_failed_job(
    learner: User, live: Deployment, jobs_now: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = services.policy_after_requests

    def stop_after_two_batches(deployment: Deployment) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the worker was stopped")
        real(deployment)

    monkeypatch.setattr(services, "policy_after_requests", stop_after_two_batches)
    run = _send(jobs_now, learner, live, requests=200)
    assert run.job.status == Job.Status.FAILED
    assert "the worker was stopped" in run.job.error
    assert run.sent == 2 * services.BATCH
    assert PredictionLog.objects.filter(deployment=live).count() == run.sent
    assert run.finished_at is not None
    assert MonitoringEvent.objects.filter(deployment=live, message__contains="stopped after 50 of 200").exists()
    assert ApiToken.objects.get(owner=learner).revoked_at is not None


# --- drift reports ---------------------------------------------------------------------------------------


def test_a_drift_report_on_logged_requests_names_the_shifted_feature_with_ks_and_why(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    _send(jobs_now, learner, live, requests=300, scenario="data", settings={"shift": {FEATURE: 2.0}})
    report = jobs_now(services.report_start, owner=learner, deployment=live, window=300)
    report.refresh_from_db()
    assert report.status == DriftReport.Status.DONE, report.error
    columns = {column["column"]: column for column in report.result["columns"]}
    assert columns[FEATURE]["drifted"]
    assert columns[FEATURE]["test"] == "ks"
    assert "1,000" in columns[FEATURE]["reason"]
    assert columns["mean texture"]["drifted"] is False
    assert report.reference_rows == 569
    assert report.current_rows == 300
    assert report.prediction_drift["test"] in ("chisquare", "z")
    alert = MonitoringEvent.objects.filter(deployment=live, kind__in=["alert", "check"]).get()
    assert alert.report_id == report.pk


def test_a_report_page_shows_each_columns_test_reason_and_overlay(
    learner: User, learner_client: Client, live: Deployment, jobs_now: Callable
) -> None:
    _send(jobs_now, learner, live, requests=100, scenario="data", settings={"shift": {FEATURE: 2.0}})
    report = jobs_now(services.report_start, owner=learner, deployment=live, window=100)
    page = learner_client.get(f"/sandbox/drift/{report.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="drift-mean-radius" data-drifted="true"' in html
    assert "Kolmogorov" in html
    assert "reference and current" in html
    assert Client().get(f"/sandbox/drift/{report.pk}/").status_code == 302


def test_another_learner_cannot_see_a_report(
    learner: User, other_learner: User, live: Deployment, jobs_now: Callable, client: Client
) -> None:
    _send(jobs_now, learner, live, requests=30)
    report = jobs_now(services.report_start, owner=learner, deployment=live, window=30)
    client.force_login(other_learner)
    assert client.get(f"/sandbox/drift/{report.pk}/").status_code == 404


def test_a_report_with_nothing_to_read_or_a_bad_upload_is_refused(learner: User, live: Deployment) -> None:
    with pytest.raises(services.MonitoringRefused, match="no requests yet"):
        services.report_start(owner=learner, deployment=live)
    for raw, message in [
        (b"", "empty"),
        (b"\x00\x01\x02\xff", "not a CSV"),
        (b"a,b\n1,2\n", "none of the model's inputs"),
        (b"mean radius\n", "no rows"),
    ]:
        with pytest.raises(services.MonitoringRefused, match=message):
            services.report_start(owner=learner, deployment=live, upload=raw)
    with pytest.raises(services.MonitoringRefused, match="no test"):
        services.report_start(owner=learner, deployment=live, tests={FEATURE: ["t-test", None]})
    assert not DriftReport.objects.exists()


def test_an_upload_refused_for_a_full_queue_leaves_no_report_and_no_file(
    learner: User, live: Deployment, v1: ModelVersion, settings: object
) -> None:
    raw = version_frame(v1.dataset_version).head(50).drop(columns=["target"]).to_csv(index=False).encode()
    settings.JOBS_PER_LEARNER = 0
    with pytest.raises(services.MonitoringRefused, match="the most one learner may have"):
        services.report_start(owner=learner, deployment=live, upload=raw)
    assert not DriftReport.objects.exists()
    _, files = default_storage.listdir(f"monitoring/{learner.pk}")
    assert files == []


def test_an_uploaded_batch_is_tested_against_the_reference(
    learner: User, live: Deployment, jobs_now: Callable, v1: ModelVersion
) -> None:
    frame = version_frame(v1.dataset_version).sample(400, replace=True, random_state=1)
    frame[FEATURE] = frame[FEATURE] * 3
    raw = frame.drop(columns=["target"]).to_csv(index=False).encode()
    report = jobs_now(services.report_start, owner=learner, deployment=live, upload=raw, tests={FEATURE: ["psi", 0.2]})
    report.refresh_from_db()
    column = next(c for c in report.result["columns"] if c["column"] == FEATURE)
    assert (column["test"], column["threshold"], column["drifted"], column["chosen"]) == ("psi", 0.2, True, "chosen")


# --- the policy and the loop ---------------------------------------------------------------------------------


def test_the_policy_retrains_on_drift_gates_and_deploys_a_canary_then_promotes_it(
    learner: User, live: Deployment, jobs_now: Callable, v1: ModelVersion
) -> None:
    services.policy_save(
        deployment=live, every_requests=150, window=150, drift_share=0.03, retrain=True, canary_percent=50,
        promote=True, promote_after=20,
    )  # fmt: skip
    _send(jobs_now, learner, live, requests=300, scenario="data", settings={"shift": {FEATURE: 2.0}}, drift_from=0)
    live.refresh_from_db()
    kinds = list(MonitoringEvent.objects.filter(deployment=live).order_by("pk").values_list("kind", flat=True))
    # The worker runs one job at a time: the retraining queued at the first drifted check runs after the traffic.
    assert kinds == ["alert", "retrain", "alert", "skipped", "traffic", "retrain", "gate", "canary"], kinds
    new = ModelVersion.objects.get(registered_model=v1.registered_model, number=2)
    assert new.tags["retrained"] == "drift"
    assert new.dataset_version.rows > v1.dataset_version.rows
    assert (live.strategy, live.candidate_version_id, live.canary_percent) == ("canary", new.pk, 50)
    # One retraining at a time: the second drifted check in the same traffic skipped it.
    assert Job.objects.filter(kind=services.RETRAIN).count() == 1
    # More traffic, labelled at once: the canary answers its share and, as accurate as the stable, takes over.
    _send(jobs_now, learner, live, requests=200, seed=2)
    live.refresh_from_db()
    assert (live.strategy, live.stable_version_id) == ("single", new.pk)
    assert MonitoringEvent.objects.filter(deployment=live, kind="promote").exists()


def test_a_policy_never_queues_a_second_retraining_while_one_runs(learner: User, live: Deployment) -> None:
    policy = services.policy_save(deployment=live, every_requests=10, retrain=True)
    running = Job.objects.create(owner=learner, kind=services.RETRAIN, status=Job.Status.RUNNING)
    DriftPolicy.objects.filter(pk=policy.pk).update(retrain_job=running)
    policy.refresh_from_db()
    report = DriftReport.objects.create(owner=learner, deployment=live, reference=live.stable_version.dataset_version)
    services._retrain_for_policy(policy, report)
    assert Job.objects.filter(kind=services.RETRAIN).count() == 1
    assert MonitoringEvent.objects.filter(kind="skipped", message__contains="already running").exists()
    with pytest.raises(services.MonitoringRefused, match="already running"):
        services.retrain_start(deployment=live)


def test_a_policy_is_checked_by_time_once_however_many_ticks(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    _send(jobs_now, learner, live, requests=40)
    policy = services.policy_save(deployment=live, every_minutes=5, window=100)
    PredictionLog.objects.filter(deployment=live).update(created_at=timezone.now())
    DriftPolicy.objects.filter(pk=policy.pk).update(last_checked_log_id=0, last_checked_at=None)
    later = timezone.now() + timedelta(minutes=6)
    assert services.policies_tick(now=later) == 1
    assert services.policies_tick(now=later) == 0
    assert DriftReport.objects.filter(trigger="policy").count() == 1


def test_a_bad_policy_is_refused(live: Deployment) -> None:
    for options, message in [
        ({}, "Say when"),
        ({"every_minutes": 0}, "1 to 1,440"),
        ({"every_requests": 5}, "10 to 100,000"),
        ({"every_requests": 50, "algorithm": "linear_regression"}, "no classification algorithm"),
    ]:
        with pytest.raises(services.MonitoringRefused, match=message):
            services.policy_save(deployment=live, **options)
    assert not DriftPolicy.objects.exists()


def test_retraining_without_enough_labels_fails_with_a_reason(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    _send(jobs_now, learner, live, requests=20)
    job = jobs_now(services.retrain_start, deployment=live)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "Only 20 requests have labels" in job.error
    assert MonitoringEvent.objects.filter(kind="retrain", message__startswith="Retraining failed").exists()


def test_identical_traffic_rarely_raises_drift(learner: User, live: Deployment, jobs_now: Callable) -> None:
    _send(jobs_now, learner, live, requests=300, seed=11)
    report = jobs_now(services.report_start, owner=learner, deployment=live, window=300)
    report.refresh_from_db()
    assert report.dataset_drift is False
    assert np.mean([column["drifted"] for column in report.result["columns"]]) <= 0.15


def test_after_concept_drift_a_forest_retrained_on_recent_labels_recovers_and_meets_stage_nine(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    from sandbox.monitoring.challenges import recovered_after_concept_drift
    from sandbox.serving.services import deployment_promote

    concept = {"scenario": "concept", "settings": {"feature": FEATURE}}
    _send(jobs_now, learner, live, requests=1500, drift_from=150, seed=4, **concept)
    assert recovered_after_concept_drift(learner)[0] is False
    job = jobs_now(
        services.retrain_start,
        deployment=live,
        algorithm="random_forest",
        recent_only=True,
        canary_percent=50,
        rows=1200,
    )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    live.refresh_from_db()
    deployment_promote(deployment=live, actor=learner, reason="the forest learnt the new concept")
    _send(jobs_now, learner, live, requests=300, drift_from=0, seed=5, **concept)
    recovered, figures = recovered_after_concept_drift(learner)
    assert recovered, figures
    assert "after retraining against" in figures


def test_accuracy_counts_arrived_labels_alike_while_others_are_still_pending() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4]})
    frame["__prediction__"] = pd.Series([1, 0, 1, 0], dtype=object)
    frame["__label__"] = pd.Series([1, 0, None, None], dtype=object)
    assert services.labelled_accuracy(frame) == (1.0, 2)
    assert services.same_value(1, 1.0)
    assert services.same_value("yes", "yes")
    assert not services.same_value("yes", "no")


def test_label_drift_compares_classes_however_pandas_typed_them(
    learner: User, live: Deployment, jobs_now: Callable
) -> None:
    # Half the labels still on their way: the arrived ones are ints beside nulls, and must read as the
    # reference's classes, not as a third and fourth class "0.0" and "1.0".
    _send(jobs_now, learner, live, requests=60, seed=8)
    PredictionLog.objects.filter(pk__in=PredictionLog.objects.order_by("pk").values("pk")[:30]).update(
        labelled_at=timezone.now() + timedelta(hours=1)
    )
    report = jobs_now(services.report_start, owner=learner, deployment=live, window=60)
    report.refresh_from_db()
    assert set(report.label_drift["bins"]) <= {"0", "1", "other"}, report.label_drift["bins"]
    assert report.label_drift["current_rows"] == 30


def test_traffic_keeps_its_rate_across_batches(learner: User, live: Deployment, jobs_now: Callable) -> None:
    run = _send(jobs_now, learner, live, requests=3 * services.BATCH, rate=50.0)
    first, last = (
        PredictionLog.objects.filter(deployment=live).order_by(order).values_list("created_at", flat=True)[0]
        for order in ("pk", "-pk")
    )
    # 75 requests at 50 a second: the last leaves about 1.48 s after the first.
    assert (last - first).total_seconds() >= 1.4
    assert run.sent == 75


def test_a_retraining_waits_for_labels_on_their_way(learner: User, live: Deployment, jobs_now: Callable) -> None:
    _send(jobs_now, learner, live, requests=60, label_delay=2)
    job = jobs_now(services.retrain_start, deployment=live, rows=60)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert "60 recent labelled" in MonitoringEvent.objects.filter(kind="retrain").order_by("-pk").first().message
