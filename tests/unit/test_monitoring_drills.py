"""Incident drills: the fault drawn among those the model can take, the drill's job through the real deploy and
serving path (a baseline, then the fault), the report, each fix and the check that measures whether it restored the
service level, the score, and the pages, which say nothing of the fault until the drill is scored.

Jobs run eagerly in the test's thread, in the order they were queued, as one worker runs them."""

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from sandbox.datasets import services as dataset_services
from sandbox.jobs import services as job_services
from sandbox.jobs.models import Job
from sandbox.models import Deployment, Drill, ModelVersion, MonitoringEvent, PredictionLog, Release, TrafficRun
from sandbox.monitoring import drills
from sandbox.monitoring import services as monitoring
from sandbox.monitoring.challenges import retrain_and_recover
from tests.unit import test_serving_setup as setup

cancer, jobs_now, v1 = setup.cancer, setup.jobs_now, setup.v1

pytestmark = pytest.mark.django_db

Fault, Fix, Status = Drill.Fault, Drill.Fix, Drill.Status


@pytest.fixture(autouse=True)
def small_drills(settings: object) -> None:
    """Small, fast drills: a few dozen requests each way at the simulator's top rate, labels at once."""
    settings.DRILL_BASELINE_REQUESTS = 60
    settings.DRILL_FAULT_REQUESTS = 60
    settings.DRILL_VERIFY_REQUESTS = 50
    settings.DRILL_RATE = 200.0
    settings.DRILL_LABEL_DELAY = 0
    settings.DRILL_LATENCY_MS = (40, 40)


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs are queued (the broker counts as reachable) and no worker ever runs them."""
    monkeypatch.setattr("sandbox.jobs.services.redis_problem", lambda url, **kwargs: None)


@pytest.fixture
def churn_version(learner: User, settings: object, tmp_path: object) -> ModelVersion:
    """A churn model: three of its inputs had missing values in training, so a broken column reaches it."""
    from sandbox.registry import artifacts
    from sandbox.serving import endpoint

    settings.MEDIA_ROOT = tmp_path / "media"
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    dataset = dataset_services.dataset_create_churn(
        owner=learner, name="churn", settings={"rows": 600, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.05,
                                               "seed": 3},
    )  # fmt: skip
    return setup.trained_version(dataset, model_name="churn", seed=3)


def regression_version(learner: User) -> ModelVersion:
    """A linear regression on the diabetes data, trained by the worker's own code and registered."""
    from sandbox.ml import training
    from sandbox.models import Experiment, Run
    from sandbox.registry import services as registry
    from sandbox.tracking import services as tracking

    dataset = dataset_services.dataset_create_builtin(owner=learner, name="diabetes")
    experiment = Experiment.objects.create(owner=learner, name="d", dataset=dataset)
    run = Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="lr",
        algorithm="linear_regression", params={}, seed=1, preparation=training.Preparation().as_dict(),
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    tracking.run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    return registry.model_version_register(run=run, model_name="diabetes")


def started(jobs_now: Callable, learner: User, version: ModelVersion, fault: str) -> Drill:
    """A drill whose deploy and traffic jobs have run: its baseline and fault traffic have been sent."""
    drill = jobs_now(drills.drill_start, owner=learner, version=version, fault=fault)
    drill.refresh_from_db()
    return drill


def fixed(jobs_now: Callable, drill: Drill, fix: str, column: str = "") -> Drill:
    drill = jobs_now(drills.drill_fix, drill=drill, fix=fix, column=column)
    drill.refresh_from_db()
    return drill


# --- the score, pure --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "points"),
    [(0, 40), (119.9, 40), (120, 40), (510, 25), (900, 10), (900.5, 0), (3600, 0), (-5, 0), (None, 0)],
)
def test_detection_scores_40_within_two_minutes_then_falls_to_10_at_fifteen(seconds: float, points: int) -> None:
    assert drills.detection_points(seconds) == points


def _scored(fault: str, column: str, cause: str, reported_column: str, restored: bool, after: float = 60) -> dict:
    now = timezone.now()
    drill = Drill(
        fault=fault, fault_column=column, reported_cause=cause, reported_column=reported_column, fault_at=now,
        reported_at=now + timedelta(seconds=after),
    )  # fmt: skip
    return drills.score_breakdown(drill, restored)


def test_the_cause_scores_30_and_for_a_column_fault_20_plus_10_for_the_column() -> None:
    assert _scored(Fault.DATA, "a", Fault.DATA, "a", True)["total"] == 100
    assert _scored(Fault.DATA, "a", Fault.DATA, "b", True)["cause"]["points"] == 20
    assert _scored(Fault.NULLS, "a", Fault.NULLS, "a", False)["total"] == 70
    assert _scored(Fault.LATENCY, "", Fault.LATENCY, "", False)["cause"]["points"] == 30
    assert _scored(Fault.LATENCY, "", Fault.CONCEPT, "", True)["cause"]["points"] == 0
    late = _scored(Fault.CONCEPT, "a", Fault.CONCEPT, "", False, after=16 * 60)
    assert (late["detect"]["points"], late["total"]) == (0, 30)


# --- which faults a model can take ------------------------------------------------------------------------


def test_a_regression_model_takes_no_class_change_and_only_an_imputing_model_a_broken_column(
    learner: User, v1: ModelVersion, churn_version: ModelVersion
) -> None:
    regression = regression_version(learner)
    assert regression.dataset_version.dataset.task == "regression"
    found = drills.candidates(regression, drills._training_frame(regression))
    assert drills.possible_faults(found) == [Fault.DATA, Fault.LATENCY]
    # Breast cancer had no missing value, so a null in any input is refused by the scoring protocol already.
    found = drills.candidates(v1, drills._training_frame(v1))
    assert drills.possible_faults(found) == [Fault.DATA, Fault.CONCEPT, Fault.LABEL, Fault.LATENCY]
    found = drills.candidates(churn_version, drills._training_frame(churn_version))
    assert found.optional == ["tenure_months", "monthly_charges", "payment_method"]
    assert drills.possible_faults(found) == Fault.values


# --- a drill from start to score ----------------------------------------------------------------------------


def runs_of(drill: Drill) -> dict[str, TrafficRun]:
    return {name: TrafficRun.objects.get(pk=pk) for name, pk in drill.verification["plan"]["runs"].items()}


def logs_of(run: TrafficRun) -> list[PredictionLog]:
    return list(
        PredictionLog.objects.filter(
            deployment_id=run.deployment_id, pk__gte=run.first_log_id, pk__lte=run.last_log_id
        ).exclude(role="shadow")
    )


def accuracy_of(run: TrafficRun) -> float:
    rows = [(log.predictions[0], log.label[0]) for log in logs_of(run)]
    return sum(str(predicted) == str(label) for predicted, label in rows) / len(rows)


def test_a_data_drift_drill_sends_a_baseline_then_the_shifted_feature_and_the_retraining_is_checked(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.DATA)
    assert drill.status == Status.RUNNING, drill.error
    deployment = drill.deployment
    assert deployment.name == f"drill-{drill.pk}"
    assert (deployment.status, deployment.stable_version_id) == (Deployment.Status.LIVE, v1.pk)
    runs = runs_of(drill)
    baseline, faulted = runs["baseline"], runs["fault"]
    column = drill.fault_column
    amount = faulted.settings["shift"][column]
    assert 1.5 <= abs(amount) <= 2.0
    assert (baseline.scenario, baseline.hidden, baseline.sent, baseline.settings) == (
        "none",
        True,
        60,
        {"drill": drill.pk},
    )
    assert (faulted.scenario, faulted.hidden, faulted.sent, faulted.drift_from) == ("data", True, 60, 0)
    assert baseline.finished_at <= drill.fault_at <= faulted.finished_at
    # The shifted feature arrives shifted in the log, every other one as in the baseline.
    mean = {name: sum(log.inputs[0][column] for log in logs_of(run)) / 60 for name, run in runs.items()}
    spread = drills._training_frame(v1)[column].std()
    assert (mean["fault"] - mean["baseline"]) / spread == pytest.approx(amount, abs=0.6)

    # The investigation: a drift report on the requests under the fault flags the shifted feature.
    report = jobs_now(monitoring.report_start, owner=learner, deployment=deployment, window=60)
    report.refresh_from_db()
    verdicts = {column["column"]: column["drifted"] for column in report.result["columns"]}
    assert verdicts[column] is True

    drills.drill_report(drill=drill, cause=Fault.DATA, column=column)
    drill = fixed(jobs_now, drill, Fix.RETRAIN)
    assert drill.status == Status.FINISHED, drill.error
    assert f"which your drift report #{report.pk} flagged (ks at" in drills.explanation(drill)[0]
    deployment.refresh_from_db()
    retrained = ModelVersion.objects.get(registered_model=v1.registered_model, number=2)
    assert retrained.tags["retrained"] == "drift"
    # The retrained version went out as a canary and was promoted, so it answered every check request.
    assert (deployment.strategy, deployment.stable_version_id) == ("single", retrained.pk)
    verify = runs_of(drill)["verify"]
    assert (verify.scenario, verify.settings["shift"], verify.sent) == ("data", {column: amount}, 50)
    assert {log.version_id for log in logs_of(verify)} == {retrained.pk}
    figures = drill.verification["figures"]
    assert figures["baseline"]["level"] == pytest.approx(accuracy_of(baseline))
    assert figures["verify"]["level"] == pytest.approx(accuracy_of(verify))
    assert drill.restored == (figures["verify"]["level"] >= figures["baseline"]["level"] - 0.05)
    assert drill.score_detail["detect"]["points"] == 40
    assert drill.score_detail["cause"] == {"points": 30, "of": 30, "cause_right": True, "column_right": True}
    assert drill.score == 70 + (30 if drill.restored else 0)


def test_a_latency_drill_ships_a_slower_release_and_a_rollback_restores_the_latency(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.LATENCY)
    assert drill.status == Status.RUNNING, drill.error
    slow = Release.objects.get(deployment=drill.deployment, number=2)
    assert (slow.added_latency_ms, slow.reason) == (40, "Routine rebuild of the serving image.")
    assert slow.live_at <= drill.fault_at
    drills.drill_report(drill=drill, cause=Fault.LATENCY, column="none")
    drill = fixed(jobs_now, drill, Fix.ROLLBACK)
    assert drill.status == Status.FINISHED, drill.error
    back = Release.objects.get(deployment=drill.deployment, number=3)
    assert (back.kind, back.added_latency_ms) == ("rollback", 0)
    figures = drill.verification["figures"]
    assert figures["fault"]["p95_ms"] >= 40
    assert figures["verify"]["p95_ms"] <= figures["baseline"]["p95_ms"] * 1.5 + 20
    assert drill.restored is True
    assert drill.score == 100
    assert drill.passed


def test_a_fix_that_does_not_fit_scores_nothing_for_the_fix(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.LATENCY)
    drills.drill_report(drill=drill, cause=Fault.LATENCY)
    drill = fixed(jobs_now, drill, Fix.REFUSE, column="mean radius")
    assert drill.deployment.refused_null_columns == ["mean radius"]
    assert drill.status == Status.FINISHED
    assert drill.restored is False
    assert drill.verification["figures"]["verify"]["p95_ms"] >= 40
    assert "p95 latency" in drill.verification["restored_why"]
    assert (drill.score, drill.passed) == (70, True)


def test_retraining_under_a_latency_fault_ships_on_the_same_slow_build(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.LATENCY)
    drills.drill_report(drill=drill, cause=Fault.DATA, column="mean radius")
    drill = fixed(jobs_now, drill, Fix.RETRAIN)
    assert drill.status == Status.FINISHED, drill.error
    deployment = Deployment.objects.get(pk=drill.deployment_id)
    current = deployment.current_release
    retrained = ModelVersion.objects.get(registered_model=v1.registered_model, number=2)
    assert (current.stable_version_id, current.added_latency_ms) == (retrained.pk, 40)
    kinds = list(deployment.releases.order_by("number").values_list("kind", "strategy", "added_latency_ms"))
    assert kinds == [
        ("deploy", "single", 0), ("deploy", "single", 40), ("deploy", "canary", 0), ("promote", "single", 0),
        ("deploy", "single", 40),
    ]  # fmt: skip
    assert drill.restored is False
    assert drill.score == 40


def test_a_broken_column_arrives_empty_and_refusing_it_restores_the_service(
    learner: User, churn_version: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, churn_version, Fault.NULLS)
    assert drill.status == Status.RUNNING, drill.error
    column = drill.fault_column
    assert column in ("tenure_months", "monthly_charges", "payment_method")
    faulted = runs_of(drill)["fault"]
    assert faulted.settings["nulls"] == {column: 0.6}
    # The endpoint answered them all, imputing the empty column.
    assert (faulted.answered, faulted.refused) == (60, 0)
    empty = sum(log.inputs[0][column] is None for log in logs_of(faulted))
    assert 20 <= empty <= 50
    drills.drill_report(drill=drill, cause=Fault.NULLS, column=column)
    drill = fixed(jobs_now, drill, Fix.REFUSE, column=column)
    assert drill.status == Status.FINISHED, drill.error
    verify = drill.verification["figures"]["verify"]
    assert verify["refused"] > 0
    assert verify["empty_answered"] == 0
    assert verify["answered"] + verify["refused"] == 50
    assert drill.restored is True
    assert drill.score == 100


def test_a_rollback_with_nothing_to_return_to_is_refused_and_changes_nothing(
    learner: User, churn_version: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, churn_version, Fault.NULLS)
    drills.drill_report(drill=drill, cause=Fault.NULLS, column=drill.fault_column)
    with pytest.raises(drills.DrillRefused, match="nothing to roll back to") as refused:
        drills.drill_fix(drill=drill, fix=Fix.ROLLBACK)
    assert refused.value.status == 409
    drill.refresh_from_db()
    assert (drill.status, drill.fix, drill.fixed_at) == (Status.RUNNING, "", None)
    assert not Job.objects.filter(kind=drills.DRILL_VERIFY).exists()
    assert drill.deployment.releases.count() == 1


def test_a_concept_change_leaves_the_inputs_alone_and_drops_accuracy(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.CONCEPT)
    runs = runs_of(drill)
    assert runs["fault"].settings["feature"] == drill.fault_column
    assert accuracy_of(runs["fault"]) < accuracy_of(runs["baseline"]) - 0.2
    drills.drill_report(drill=drill, cause=Fault.CONCEPT, column=drill.fault_column)
    drill.refresh_from_db()
    assert drill.reported_column == ""
    drill = drills.drill_end(drill=drill)
    assert (drill.status, drill.restored, drill.score) == (Status.FINISHED, None, 70)
    assert drill.score_detail["fix"] == {"points": 0, "of": 30, "restored": None}
    assert drills.revealed(drill)
    assert drill.fault_column in " ".join(drills.explanation(drill))


def test_a_label_balance_change_moves_the_classes_towards_the_minority(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.LABEL)
    plan = drill.verification["plan"]
    # Breast cancer's minority class is 0 (malignant), 37 % of the training data.
    assert (plan["class"], plan["settings"]["balance"]["0"]) == ("0", 0.75)
    labels = [log.label[0] for log in logs_of(runs_of(drill)["fault"])]
    assert labels.count(0) / len(labels) > 0.55
    drills.drill_report(drill=drill, cause=Fault.DATA, column="mean radius")
    drill = drills.drill_end(drill=drill)
    assert drill.score_detail["cause"]["points"] == 0
    assert drill.score == 40


def test_a_regression_drill_measures_r2(learner: User, jobs_now: Callable, settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    version = regression_version(learner)
    drill = started(jobs_now, learner, version, Fault.DATA)
    assert drill.status == Status.RUNNING, drill.error
    drill = drills.drill_end(drill=drill)
    figures = drill.verification["figures"]
    assert figures["baseline"]["metric"] == "R²"
    assert 0 < figures["baseline"]["level"] <= 1
    assert drill.score == 0
    assert not drills.revealed(drill)


# --- starting, and what cannot start ---------------------------------------------------------------------------


def test_a_drill_that_cannot_start_is_refused_and_creates_nothing(
    learner: User, other_learner: User, v1: ModelVersion, jobs_now: Callable, settings: object
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    def nothing_made() -> None:
        assert not Drill.objects.exists()
        assert not Deployment.objects.exists()
        assert not Job.objects.exists()

    with pytest.raises(drills.DrillRefused) as refused:
        drills.drill_start(owner=other_learner, version=v1)
    assert refused.value.status == 404
    nothing_made()
    # The endpoint cap, with a sentence that says what to do.
    for number in range(10):
        Deployment.objects.create(owner=learner, name=f"mine-{number}", registered_model=v1.registered_model)
    with pytest.raises(drills.DrillRefused, match="you have 10 endpoints, the most allowed") as refused:
        drills.drill_start(owner=learner, version=v1)
    assert refused.value.status == 409
    assert not Drill.objects.exists()
    assert Deployment.objects.count() == 10
    Deployment.objects.all().delete()
    # Training data that cannot be read: there is no live traffic to draw.
    path = v1.dataset_version.file
    content = default_storage.open(path, "rb").read()
    default_storage.delete(path)
    with pytest.raises(drills.DrillRefused, match="cannot be read") as refused:
        drills.drill_start(owner=learner, version=v1)
    assert refused.value.status == 409
    nothing_made()
    default_storage.save(path, ContentFile(content))
    # A full job queue refuses the drill's jobs, taking the drill and its endpoint with them.
    settings.JOBS_PER_LEARNER = 1
    with pytest.raises(drills.DrillRefused, match="jobs queued or running") as refused:
        jobs_now(drills.drill_start, owner=learner, version=v1)
    assert refused.value.status == 429
    nothing_made()


def test_one_drill_at_a_time_and_a_finished_drills_endpoint_goes_when_the_next_starts(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    first = started(jobs_now, learner, v1, Fault.DATA)
    with pytest.raises(drills.DrillRefused, match=f"Drill #{first.pk} is still running") as refused:
        drills.drill_start(owner=learner, version=v1)
    assert refused.value.status == 409
    drills.drill_end(drill=first)
    second = started(jobs_now, learner, v1, Fault.DATA)
    first.refresh_from_db()
    assert first.deployment is None
    assert first.status == Status.FINISHED
    assert not Deployment.objects.filter(name=f"drill-{first.pk}").exists()
    assert Deployment.objects.get(owner=learner).pk == second.deployment_id


def test_an_endpoint_name_taken_by_hand_gets_a_suffix(learner: User, v1: ModelVersion, jobs_now: Callable) -> None:
    # The next drill's id, on SQLite and on PostgreSQL alike (neither hands an id out twice).
    probe = Drill.objects.create(owner=learner, version=v1, fault=Fault.DATA, status=Drill.Status.FINISHED)
    following = probe.pk + 1
    probe.delete()
    Deployment.objects.create(owner=learner, name=f"drill-{following}", registered_model=v1.registered_model)
    drill = started(jobs_now, learner, v1, Fault.DATA)
    assert drill.pk == following
    assert re.fullmatch(rf"drill-{drill.pk}-[0-9a-f]{{6}}", drill.deployment.name)


def test_the_fault_is_drawn_among_those_the_model_takes(
    learner: User, v1: ModelVersion, settings: object, no_worker: None
) -> None:
    settings.DRILL_FAULTS = [Fault.NULLS]
    with pytest.raises(drills.DrillRefused, match="None of the drill's faults fits this model"):
        drills.drill_start(owner=learner, version=v1)
    with pytest.raises(drills.DrillRefused, match="cannot take the fault"):
        drills.drill_start(owner=learner, version=v1, fault=Fault.NULLS)
    settings.DRILL_FAULTS = None
    seen = set()
    for _ in range(40):
        seen.add(drills.drill_start(owner=learner, version=v1).fault)
        # Undone at once, so the next start is not refused for a drill running.
        Drill.objects.all().delete()
        Deployment.objects.all().delete()
        Job.objects.all().delete()
    # Breast cancer had no missing value, so no broken column; every other fault comes up.
    assert seen <= {Fault.DATA, Fault.CONCEPT, Fault.LABEL, Fault.LATENCY}
    assert len(seen) >= 3


# --- the report, the fix and what the drill refuses --------------------------------------------------------------


def test_a_report_names_one_of_the_five_causes_once_and_a_column_where_the_fault_has_one(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.DATA)
    with pytest.raises(drills.DrillRefused, match="comes after the report"):
        drills.drill_fix(drill=drill, fix=Fix.ROLLBACK)
    for cause, column, message in [
        ("gremlins", "", "not one"),
        (Fault.DATA, "none", "name it"),
        (Fault.NULLS, "", "name it"),
        (Fault.DATA, "shoe size", "not an input"),
    ]:
        with pytest.raises(drills.DrillRefused, match=message):
            drills.drill_report(drill=drill, cause=cause, column=column)
    drill.refresh_from_db()
    assert drill.reported_at is None
    drills.drill_report(drill=drill, cause=Fault.DATA, column="mean radius")
    drill.refresh_from_db()
    assert (drill.reported_cause, drill.reported_column) == (Fault.DATA, "mean radius")
    with pytest.raises(drills.DrillRefused, match="already reported") as refused:
        drills.drill_report(drill=drill, cause=Fault.LATENCY)
    assert refused.value.status == 409


def test_a_report_waits_for_the_endpoint_and_a_fix_for_the_traffic(
    learner: User, v1: ModelVersion, no_worker: None
) -> None:
    # No worker runs here: the drill is still starting.
    drill = drills.drill_start(owner=learner, version=v1, fault=Fault.LATENCY)
    with pytest.raises(drills.DrillRefused, match="still starting"):
        drills.drill_report(drill=drill, cause=Fault.LATENCY)
    Drill.objects.filter(pk=drill.pk).update(
        status=Status.RUNNING, reported_at=timezone.now(), reported_cause="latency"
    )
    drill.refresh_from_db()
    with pytest.raises(drills.DrillRefused, match="still sending its traffic") as refused:
        drills.drill_fix(drill=drill, fix=Fix.ROLLBACK)
    assert refused.value.status == 409


def test_a_retraining_fix_needs_room_for_its_three_jobs(
    learner: User, v1: ModelVersion, jobs_now: Callable, settings: object
) -> None:
    drill = started(jobs_now, learner, v1, Fault.DATA)
    drills.drill_report(drill=drill, cause=Fault.DATA, column=drill.fault_column)
    Job.objects.create(owner=learner, kind="drill")
    with pytest.raises(drills.DrillRefused, match="Retraining runs 3 jobs") as refused:
        drills.drill_fix(drill=drill, fix=Fix.RETRAIN)
    assert refused.value.status == 429
    drill.refresh_from_db()
    assert (drill.status, drill.fix) == (Status.RUNNING, "")


def test_a_drill_ended_during_its_baseline_starts_no_fault_and_keeps_what_its_end_recorded(
    learner: User, v1: ModelVersion, jobs_now: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = monitoring.traffic_send

    def send_then_end(**kwargs: object) -> TrafficRun:
        run = real(**kwargs)
        drills.drill_end(drill=Drill.objects.get(pk=run.settings["drill"]))
        return run

    monkeypatch.setattr(monitoring, "traffic_send", send_then_end)
    drill = started(jobs_now, learner, v1, Fault.LATENCY)
    assert (drill.status, drill.fault_at, drill.score) == (Status.FINISHED, None, 0)
    assert list(drill.verification["plan"]["runs"]) == ["baseline"]
    assert drill.verification["figures"]["baseline"]["answered"] == 60
    assert drill.verification["restored_why"] == "The drill was ended without a fix."
    assert TrafficRun.objects.filter(deployment=drill.deployment).count() == 1
    assert drill.deployment.releases.count() == 1
    assert Job.objects.get(pk=drill.job_id).status == Job.Status.SUCCEEDED


def test_a_drill_whose_job_fails_ends_failed_and_unscored(learner: User, v1: ModelVersion, no_worker: None) -> None:
    drill = drills.drill_start(owner=learner, version=v1, fault=Fault.DATA)
    job_services.job_fail(job_id=drill.job_id, error="The worker stopped twice while running this job.")
    drill.refresh_from_db()
    assert (drill.status, drill.score) == (Status.FAILED, None)
    assert "stopped twice" in drill.error
    assert drills.drill_running(owner=learner) is None


def test_a_check_that_fails_still_scores_the_report(learner: User, v1: ModelVersion, jobs_now: Callable) -> None:
    drill = started(jobs_now, learner, v1, Fault.CONCEPT)
    drills.drill_report(drill=drill, cause=Fault.CONCEPT)
    # Queued, not run: no worker takes it before it fails.
    drill = drills.drill_fix(drill=drill, fix=Fix.REFUSE, column="mean radius")
    job_services.job_fail(job_id=drill.job_id, error="The job took longer than its 120-second limit and was stopped.")
    drill.refresh_from_db()
    assert (drill.status, drill.restored, drill.score) == (Status.FINISHED, None, 70)
    assert "could not finish" in drill.verification["restored_why"]


# --- nothing gives the fault away before the score ----------------------------------------------------------


def neutral(html: str) -> str:
    """The page without what differs between two renders of the same state: the CSRF token, masked anew each time."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)


def pages(client: Client, drill: Drill) -> list[str]:
    drill_page = client.get(f"/sandbox/drills/{drill.pk}/")
    fragment = client.get(f"/sandbox/drills/{drill.pk}/?fragment=progress", HTTP_HX_REQUEST="true")
    history = client.get("/sandbox/drills/")
    job = client.get(f"/sandbox/jobs/{drill.job_id}/")
    assert [page.status_code for page in (drill_page, history, job)] == [200, 200, 200]
    return [neutral(page.content.decode()) for page in (drill_page, fragment, history, job)]


def as_if(drill: Drill, fault: str, column: str, plan: dict) -> None:
    Drill.objects.filter(pk=drill.pk).update(fault=fault, fault_column=column, verification={"plan": plan})


def test_before_the_score_the_pages_are_the_same_whatever_the_fault(
    learner: User, learner_client: Client, v1: ModelVersion, jobs_now: Callable
) -> None:
    drill = started(jobs_now, learner, v1, Fault.DATA)
    plan = drill.verification["plan"]
    others = [
        (Fault.LATENCY, "", {**plan, "column": "", "settings": {}, "latency_ms": 200}),
        (Fault.CONCEPT, "worst area", {**plan, "column": "worst area", "settings": {"feature": "worst area"}}),
    ]
    seen = pages(learner_client, drill)
    assert drill.fault_column in seen[0]  # as one of the column choices, like every input
    for fault, column, other in others:
        as_if(drill, fault, column, other)
        assert pages(learner_client, drill) == seen
    # After the report, still running: the page says what the learner reported, and no more.
    drills.drill_report(drill=drill, cause=Fault.NULLS, column="mean radius")
    as_if(drill, Fault.DATA, plan["column"], plan)
    seen = pages(learner_client, drill)
    assert "You reported <strong>a broken upstream column (nulls)</strong>" in seen[0]
    for fault, column, other in others:
        as_if(drill, fault, column, other)
        assert pages(learner_client, drill) == seen


def test_the_jobs_progress_and_the_timeline_say_the_same_whatever_the_fault(
    learner: User, churn_version: ModelVersion, jobs_now: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: dict[int, list[str]] = {}
    real = job_services.job_report_progress

    def record(*, job_id: int, percent: int, message: str) -> None:
        said.setdefault(job_id, []).append(message)
        real(job_id=job_id, percent=percent, message=message)

    monkeypatch.setattr(job_services, "job_report_progress", record)
    seen = {}
    for fault in (Fault.NULLS, Fault.LATENCY):
        drill = started(jobs_now, learner, churn_version, fault)
        job = Job.objects.get(pk=drill.job_id)
        assert job.result == {"drill_id": drill.pk, "sent": 120}
        seen[fault] = said[job.pk]
        timeline = list(MonitoringEvent.objects.filter(deployment=drill.deployment).values_list("message", flat=True))
        assert [re.sub(r"#\d+", "#N", message) for message in timeline] == [
            "Simulated traffic: 60 of 60 requests answered, 0 refused.",
            "Simulated traffic: 60 of 60 requests answered, 0 refused.",
            "Incident drill #N started: version 1 of churn serves here, and hidden traffic is on its way.",
        ]
        drills.drill_end(drill=drill)
    assert seen[Fault.NULLS] == seen[Fault.LATENCY]
    assert seen[Fault.NULLS][0] == "Waiting for the drill's endpoint to go live"
    assert all(re.fullmatch(r"Sending the drill's traffic: \d+ of 120 requests", m) for m in seen[Fault.NULLS][1:])
    assert seen[Fault.NULLS][-1] == "Sending the drill's traffic: 120 of 120 requests"


# --- the pages ---------------------------------------------------------------------------------------------


def test_a_learner_starts_reports_fixes_and_reads_the_revealed_score_on_the_pages(
    learner: User, learner_client: Client, v1: ModelVersion, jobs_now: Callable, settings: object,
    django_capture_on_commit_callbacks: Callable,
) -> None:  # fmt: skip
    settings.DRILL_FAULTS = [Fault.LATENCY]
    empty = learner_client.get("/sandbox/drills/").content.decode()
    assert "No drills yet" in empty
    assert 'id="drill-start-form"' in empty
    assert "takes\n      down the endpoints of your finished drills" in empty
    with django_capture_on_commit_callbacks(execute=True):
        response = learner_client.post("/sandbox/drills/", {"version": v1.pk})
    drill = Drill.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sandbox/drills/{drill.pk}/"
    page = learner_client.get(response["Location"]).content.decode()
    assert f'href="/sandbox/deployments/{drill.deployment_id}/monitor/"' in page
    assert 'id="drill-report-form"' in page
    assert "hx-get" not in page.split('id="drill-progress"')[1].split(">")[0]
    bad = learner_client.post(f"/sandbox/drills/{drill.pk}/report/", {"cause": Fault.DATA, "column": "none"})
    assert bad.status_code == 422
    assert "is in one column: choose it" in bad.content.decode()
    reported = learner_client.post(f"/sandbox/drills/{drill.pk}/report/", {"cause": Fault.LATENCY, "column": "none"})
    assert reported.status_code == 302
    page = learner_client.get(f"/sandbox/drills/{drill.pk}/").content.decode()
    assert 'id="drill-fix-form"' in page
    assert 'id="drill-reveal"' not in page
    refused = learner_client.post(f"/sandbox/drills/{drill.pk}/fix/", {"fix": Fix.REFUSE, "column": ""})
    assert refused.status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        done = learner_client.post(f"/sandbox/drills/{drill.pk}/fix/", {"fix": Fix.ROLLBACK})
    assert done.status_code == 302
    page = learner_client.get(f"/sandbox/drills/{drill.pk}/").content.decode()
    assert 'id="drill-score">100/100' in page
    assert "What it was: a latency regression" in page
    assert "Rolling back to the release before it restores the latency" in page
    assert 'data-part="verify"' in page
    history = learner_client.get("/sandbox/drills/").content.decode()
    assert "A latency regression" in history
    assert "Passed" in history
    status = retrain_and_recover(learner)
    assert status.steps[1] == ("Pass an incident drill (a score of 60 or more)", True)


def test_a_learner_without_a_version_is_told_how_to_get_one(learner_client: Client) -> None:
    page = learner_client.get("/sandbox/drills/").content.decode()
    assert 'id="drill-no-version"' in page
    assert 'id="drill-start-form"' not in page
    refused = learner_client.post("/sandbox/drills/", {"version": 1})
    assert refused.status_code == 422
    assert not Drill.objects.exists()


def test_bad_input_on_the_pages_is_the_forms_error(
    learner: User, learner_client: Client, v1: ModelVersion, other_learner: User, jobs_now: Callable
) -> None:
    theirs = setup.trained_version(v1.dataset_version.dataset, model_name="theirs", seed=5)
    ModelVersion.objects.filter(pk=theirs.pk).update(owner=other_learner)
    assert learner_client.post("/sandbox/drills/", {"version": theirs.pk}).status_code == 422
    assert learner_client.post("/sandbox/drills/", {"version": "x"}).status_code == 422
    drill = started(jobs_now, learner, v1, Fault.DATA)
    again = learner_client.post("/sandbox/drills/", {"version": v1.pk})
    assert again.status_code == 409
    assert f"Drill #{drill.pk} is still running" in again.content.decode()
    learner_client.post(f"/sandbox/drills/{drill.pk}/report/", {"cause": Fault.DATA, "column": drill.fault_column})
    rollback = learner_client.post(f"/sandbox/drills/{drill.pk}/fix/", {"fix": Fix.ROLLBACK})
    assert rollback.status_code == 409
    assert "nothing to roll back to" in rollback.content.decode()
    assert learner_client.post(f"/sandbox/drills/{drill.pk}/fix/", {"fix": "pray"}).status_code == 422
    ended = learner_client.post(f"/sandbox/drills/{drill.pk}/end/")
    assert ended.status_code == 302
    twice = learner_client.post(f"/sandbox/drills/{drill.pk}/end/")
    assert twice.status_code == 409
    assert "already over" in twice.content.decode()


def test_another_learner_finds_no_drill(
    learner: User, other_learner: User, v1: ModelVersion, client: Client, no_worker: None
) -> None:
    drill = drills.drill_start(owner=learner, version=v1, fault=Fault.LATENCY)
    client.force_login(other_learner)
    for url in ("", "report/", "fix/", "end/"):
        method = client.get if not url else client.post
        assert method(f"/sandbox/drills/{drill.pk}/{url}").status_code == 404
    assert f"#{drill.pk}" not in client.get("/sandbox/drills/").content.decode()
    assert Client().get(f"/sandbox/drills/{drill.pk}/").status_code == 302


def test_the_progress_polls_while_a_job_of_the_drills_runs_and_then_reloads_the_page(
    learner: User, learner_client: Client, v1: ModelVersion, no_worker: None
) -> None:
    drill = drills.drill_start(owner=learner, version=v1, fault=Fault.LATENCY)
    url = f"/sandbox/drills/{drill.pk}/?fragment=progress"
    polling = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert polling.status_code == 200
    assert 'hx-trigger="every 1500ms"' in polling.content.decode()
    assert "Waiting for a worker" in polling.content.decode()
    assert "HX-Refresh" not in polling
    # The endpoint went live and the traffic flows: the page reloads to open the report, and still polls.
    Drill.objects.filter(pk=drill.pk).update(status=Status.RUNNING)
    moved = learner_client.get(url + "&seen=starting", HTTP_HX_REQUEST="true")
    assert (moved.status_code, moved["HX-Refresh"]) == (200, "true")
    assert "seen=running" in moved.content.decode()
    Job.objects.filter(pk=drill.job_id).update(status=Job.Status.SUCCEEDED)
    ended = learner_client.get(url, HTTP_HX_REQUEST="true")
    assert ended.status_code == 286
    assert ended["HX-Refresh"] == "true"
    assert "hx-get" not in ended.content.decode()
