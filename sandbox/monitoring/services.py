"""Use cases of monitoring: send simulated traffic, run drift reports, keep a drift policy, retrain on drift and
put the new version out as a canary, promote it when it does well, and write all of it on the timeline."""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import time
import uuid
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from mlopslab.storage import StorageUnavailable
from sandbox.datasets.selectors import version_class_count, version_frame
from sandbox.jobs.models import Job
from sandbox.jobs.registry import JobError, ProgressCallback
from sandbox.jobs.services import JobRefused, job_create_or_refuse
from sandbox.monitoring.models import DriftPolicy, DriftReport, MonitoringEvent, Onset, Scenario, TrafficRun
from sandbox.registry import artifacts
from sandbox.registry.models import ModelVersion
from sandbox.serving import request_log
from sandbox.serving.models import Deployment, PredictionLog, Strategy

pd = lazy_module("pandas")
np = lazy_module("numpy")
drift = lazy_module("sandbox.monitoring.drift")
traffic = lazy_module("sandbox.monitoring.traffic")

TRAFFIC = "traffic"
DRIFT_REPORT = "drift_report"
RETRAIN = "retrain"

# Requests a traffic job sends between two commits of its log and its counters.
BATCH = 25
# The most recent labelled requests a retraining reads.
RETRAIN_ROWS = 5_000
# Labelled requests a retraining needs at least.
RETRAIN_MIN_ROWS = 50
# How long a retraining waits for labels still on their way, when too few have arrived: a quarter of the
# default time limit, leaving the training its half (sandbox.ml.training's budget) and the gate the rest.
LABEL_WAIT = timedelta(seconds=30)
MAX_WINDOW = 100_000
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# After a retraining was queued, a policy raises alerts but queues no other for this long.
COOLDOWN = timedelta(minutes=5)
ANSWERING_ROLES = (PredictionLog.Role.STABLE, PredictionLog.Role.CANARY)
# A mystery's traffic: the first sixth as the model knows it, then one input drifts.
MYSTERY_REQUESTS = 600
MYSTERY_RATE = 100.0


class MonitoringRefused(Refused):
    """Nothing was started or changed; the message says why, for the learner."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


def _queue(owner: User, kind: str, params: dict) -> Job:
    """Queue a job of monitoring's in the caller's transaction; a full or unreachable queue refuses, and the
    caller's rows go with the transaction."""
    try:
        return job_create_or_refuse(owner=owner, kind=kind, params=params)
    except JobRefused as refusal:
        raise MonitoringRefused(refusal.message, status=refusal.status) from None


# --- the timeline ------------------------------------------------------------------------------------------


def event_add(
    deployment: Deployment | int, kind: str, message: str, *, report: DriftReport | None = None,
    job: Job | int | None = None, version: ModelVersion | None = None, **details: object,
) -> MonitoringEvent:  # fmt: skip
    deployment_id = deployment if isinstance(deployment, int) else deployment.pk
    job_id = job if isinstance(job, int) or job is None else job.pk
    return MonitoringEvent.objects.create(
        deployment_id=deployment_id, kind=kind, message=message[:300], report=report, job_id=job_id,
        version=version, details=details,
    )  # fmt: skip


def alert_acknowledge(*, event: MonitoringEvent) -> None:
    """An alert leaves the banner and stays on the timeline, marked with when; a second time keeps the first."""
    MonitoringEvent.objects.filter(pk=event.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())


# --- what the deployment serves, and what it was trained on -----------------------------------------------


def _live(deployment: Deployment) -> Deployment:
    deployment.refresh_from_db()
    if deployment.status != Deployment.Status.LIVE or deployment.stable_version_id is None:
        raise MonitoringRefused("The endpoint has no live release yet; wait for its deploy to finish.", status=409)
    return deployment


def serving_version(deployment: Deployment) -> ModelVersion:
    return ModelVersion.objects.select_related("dataset_version__dataset", "run__experiment").get(
        pk=deployment.stable_version_id
    )


def input_names(version: ModelVersion) -> list[str]:
    return [column["name"] for column in version.signature]


def training_frame(version: ModelVersion) -> pd.DataFrame:
    """The data version the model was trained on, as the app stored it: the drift reference."""
    return version_frame(version.dataset_version)


def traffic_source(deployment: Deployment) -> pd.DataFrame:
    """The data the simulator draws requests from: what the version of the endpoint's first release was trained
    on. Fixed for the endpoint's life, so that a retrained version, whose own training data already holds drifted
    requests, meets the same world as the version before it, and not a world drifted twice."""
    from sandbox.serving.models import Release

    first = Release.objects.filter(deployment=deployment).order_by("number").select_related("version").first()
    version = first.version if first is not None else serving_version(deployment)
    return version_frame(version.dataset_version)


def _is_classification(version: ModelVersion) -> bool:
    return version.dataset_version.dataset.task == "classification"


# --- traffic -----------------------------------------------------------------------------------------------


def _plan_check(version: ModelVersion, plan: traffic.Plan) -> None:
    """Refuse, before anything is queued, a scenario this model's data cannot take."""
    if plan.scenario in (Scenario.CONCEPT, Scenario.LABEL) and not _is_classification(version):
        raise MonitoringRefused(
            f"{Scenario(plan.scenario).label} changes classes, and this model predicts a number; "
            "use data drift, or a classification model."
        )
    frame = training_frame(version)
    dataset = version.dataset_version.dataset
    try:
        traffic.generate(
            frame.head(200), target=dataset.target, inputs=input_names(version),
            plan=traffic.Plan(**{**asdict(plan), "requests": min(plan.requests, 20)}),
        )  # fmt: skip
    except traffic.ScenarioError as problem:
        raise MonitoringRefused(str(problem)) from None


def traffic_seconds_allowed() -> float:
    """How long a traffic job may send for: most of a job's soft time limit, the rest left for drawing the rows,
    the batches' commits and the checks of a drift policy that run after them."""
    return django_settings.CELERY_TASK_SOFT_TIME_LIMIT * 0.75


def traffic_start(
    *, owner: User, deployment: Deployment, requests: int, rate: float, scenario: str = Scenario.NONE,
    onset: str = Onset.SUDDEN, drift_from: int = 0, ramp: int = 0, settings: dict | None = None,
    label_delay: int = 0, seed: int | None = None, hidden: bool = False,
) -> TrafficRun:  # fmt: skip
    """Queue a traffic job against the learner's live endpoint; refuse, creating nothing, a bad scenario."""
    if deployment.owner_id != owner.pk:
        raise MonitoringRefused("There is no such endpoint of yours.", status=404)
    deployment = _live(deployment)
    if scenario not in Scenario.values:
        raise MonitoringRefused(f"There is no scenario called {scenario!r}.")
    if onset not in Onset.values:
        raise MonitoringRefused("Drift starts suddenly or gradually.")
    if not 1 <= requests <= traffic.MAX_REQUESTS:
        raise MonitoringRefused(f"Send between 1 and {traffic.MAX_REQUESTS:,} requests.")
    if not 0.5 <= rate <= traffic.MAX_RATE:
        raise MonitoringRefused(f"The rate is between 0.5 and {traffic.MAX_RATE:g} requests per second.")
    longest = traffic_seconds_allowed()
    if requests / rate > longest:
        limit = django_settings.CELERY_TASK_SOFT_TIME_LIMIT
        raise MonitoringRefused(
            f"{requests:,} requests at {rate:g} per second would take {requests / rate:,.0f} seconds, and a job may "
            f"run for {limit} (the traffic gets {longest:.0f} of them); send fewer requests, faster (for example "
            f"{requests:,} at {math.ceil(requests / longest):g} a second), or in several runs."
        )
    if not 0 <= label_delay <= 3600:
        raise MonitoringRefused("Labels arrive between 0 and 3,600 seconds after their request.")
    if drift_from >= requests and scenario != Scenario.NONE:
        raise MonitoringRefused(f"The drift starts at request {drift_from:,}, after the last of {requests:,}.")
    seed = random.randrange(1_000_000) if seed is None else seed
    plan = traffic.Plan(
        scenario=scenario, onset=onset, drift_from=drift_from, ramp=ramp, settings=settings or {},
        requests=requests, seed=seed,
    )  # fmt: skip
    _plan_check(serving_version(deployment), plan)
    with transaction.atomic():
        run = TrafficRun.objects.create(
            owner=owner, deployment=deployment, scenario=scenario, onset=onset, drift_from=drift_from, ramp=ramp,
            settings=settings or {}, requests=requests, rate=rate, label_delay=label_delay, seed=seed, hidden=hidden,
        )  # fmt: skip
        job = _queue(owner, TRAFFIC, {"traffic_run_id": run.pk})
        TrafficRun.objects.filter(pk=run.pk).update(job=job)
    run.refresh_from_db()
    return run


def mystery_start(*, owner: User, deployment: Deployment) -> TrafficRun:
    """Hidden data drift on one input chosen at random: the learner finds which with a drift report."""
    deployment = _live(deployment)
    version = serving_version(deployment)
    frame = training_frame(version)
    numeric = [
        name for name in input_names(version)
        if pd.api.types.is_numeric_dtype(frame[name]) and frame[name].nunique() > 5
    ]  # fmt: skip
    if not numeric:
        raise MonitoringRefused("A mystery shifts a numeric input, and this model has none with more than 5 values.")
    chooser = random.Random()
    feature = chooser.choice(numeric)
    shift = chooser.choice([-1.5, -1.0, 1.0, 1.5])
    return traffic_start(
        owner=owner, deployment=deployment, requests=MYSTERY_REQUESTS, rate=MYSTERY_RATE, scenario=Scenario.DATA,
        drift_from=MYSTERY_REQUESTS // 6,
        settings={"shift": {feature: shift}}, label_delay=5, hidden=True,
    )  # fmt: skip


def is_mystery(run: TrafficRun) -> bool:
    """A mystery's traffic: hidden data drift that is not a drill's (a drill's fault is named on its own page)."""
    return run.hidden and run.scenario == Scenario.DATA and "drill" not in run.settings


def mystery_guess(*, run: TrafficRun, feature: str) -> bool:
    """Record the learner's answer to a mystery (once); True when it names the drifted feature."""
    if not is_mystery(run):
        raise MonitoringRefused("Only a mystery asks you to name the drifted feature.", status=409)
    if run.guessed_at is not None:
        raise MonitoringRefused("You already answered this mystery; start another to try again.", status=409)
    if run.job is not None and not run.job.is_finished:
        raise MonitoringRefused("Wait for the mystery's traffic to finish, then run a drift report.", status=409)
    feature = feature.strip()
    if not feature:
        raise MonitoringRefused("Name the feature you found drifted.")
    TrafficRun.objects.filter(pk=run.pk, guessed_at__isnull=True).update(guess=feature[:255], guessed_at=timezone.now())
    progress_refresh(user=run.owner)
    return mystery_solved(run)


def mystery_solved(run: TrafficRun) -> bool:
    run.refresh_from_db()
    return bool(run.guess) and run.guess in (run.settings.get("shift") or {})


def _labelling_log(run: TrafficRun, label: object, collected: list[dict]) -> callable:
    """The log the endpoint writes a simulated request's rows through: the true label is kept with the time it
    arrives (now + the delay), and the rows wait for the batch's commit."""

    def log(rows: list[dict]) -> None:
        for row in rows:
            arrives = row["created_at"] + timedelta(seconds=run.label_delay)
            collected.append({**row, "label": [label] * min(row["row_count"], 100), "labelled_at": arrives})

    return log


def traffic_send(*, run_id: int, on_progress: ProgressCallback, token: str) -> TrafficRun:
    """Send the run's requests through the endpoint's serving path, as `curl` with the learner's token would,
    and commit the log rows of each batch together with the run's counters: a job stopped mid-way leaves a log
    that holds exactly the requests `sent` counts."""
    from sandbox.serving import endpoint  # the serving path itself; imported here, as the lane does

    run = TrafficRun.objects.select_related("deployment").get(pk=run_id)
    deployment = run.deployment
    version = serving_version(_live(deployment))
    dataset = version.dataset_version.dataset
    plan = traffic.Plan(
        scenario=run.scenario, onset=run.onset, drift_from=run.drift_from, ramp=run.ramp, settings=run.settings,
        requests=run.requests, seed=run.seed,
    )  # fmt: skip
    on_progress(2, "Drawing requests from the training data")
    try:
        made = traffic.generate(
            traffic_source(deployment), target=dataset.target, inputs=input_names(version), plan=plan
        )
    except traffic.ScenarioError as problem:
        raise JobError(str(problem)) from None
    records = traffic.records(made.rows)
    header = f"Bearer {token}"
    started, resumed_at = time.monotonic(), run.sent
    for first in range(run.sent, run.requests, BATCH):
        collected: list[dict] = []
        answered = refused = 0
        for at in range(first, min(first + BATCH, run.requests)):
            # Paced to the rate: request `at` leaves no earlier than at / rate seconds after the start (of this
            # attempt: a redelivered job goes on from the requests already sent).
            wait = (at - resumed_at) / run.rate - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)
            body = json.dumps({"dataframe_records": [records[at]]}).encode()
            response = endpoint.answer_with_token(
                deployment.name, header, body, "application/json", time.perf_counter(),
                log=_labelling_log(run, traffic.plain(made.labels[at]), collected),
            )  # fmt: skip
            if response.status_code == 200:
                answered += 1
            else:
                refused += 1
        last = min(first + BATCH, run.requests)
        with transaction.atomic():
            if collected:
                request_log.write(collected)
            ids = _batch_log_ids(deployment, collected)
            updates = {"sent": last, "answered": run.answered + answered, "refused": run.refused + refused}
            if ids:
                updates["last_log_id"] = ids[-1]
                if run.first_log_id is None:
                    updates["first_log_id"] = ids[0]
                drifted = [i for i, at in zip(ids, _request_numbers(first, collected), strict=True)
                           if made.strength[at] > 0]  # fmt: skip
                if run.drift_log_id is None and drifted:
                    updates["drift_log_id"] = drifted[0]
            TrafficRun.objects.filter(pk=run.pk).update(**updates)
        run.refresh_from_db()
        on_progress(int(100 * last / run.requests), f"{last:,} of {run.requests:,} requests sent")
        policy_after_requests(deployment)
    TrafficRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    shown = "" if run.hidden else f" ({Scenario(run.scenario).label.lower()})"
    event_add(
        deployment, MonitoringEvent.Kind.TRAFFIC,
        f"Simulated traffic{shown}: {run.answered:,} of {run.requests:,} requests answered, {run.refused:,} refused.",
        job=run.job,
    )  # fmt: skip
    return run


def _request_numbers(first: int, collected: list[dict]) -> list[int]:
    """The request number of each answering log row of a batch (a shadow's row shares its request's)."""
    numbers, at, seen = [], first - 1, None
    for row in collected:
        if row["role"] == PredictionLog.Role.SHADOW:
            continue
        if row["request_id"] != seen:
            at, seen = at + 1, row["request_id"]
        numbers.append(at)
    return numbers


def _batch_log_ids(deployment: Deployment, collected: list[dict]) -> list[int]:
    answering = [row["request_id"] for row in collected if row["role"] != PredictionLog.Role.SHADOW]
    if not answering:
        return []
    by_request = dict(
        PredictionLog.objects.filter(deployment=deployment, request_id__in=answering)
        .exclude(role=PredictionLog.Role.SHADOW)
        .values_list("request_id", "pk")
    )
    return [by_request[request_id] for request_id in answering if request_id in by_request]


def traffic_fail_with_job(job_id: int, error: str) -> None:
    for run in TrafficRun.objects.filter(job_id=job_id, finished_at__isnull=True):
        TrafficRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
        event_add(
            run.deployment_id, MonitoringEvent.Kind.TRAFFIC,
            f"Simulated traffic stopped after {run.sent:,} of {run.requests:,} requests: {error}",
            job=job_id,
        )  # fmt: skip


# --- the current window: logged requests as a frame ------------------------------------------------------------


def window_frame(
    deployment: Deployment, *, window: int, inputs: list[str], version_id: int | None = None,
    before_id: int | None = None, after_id: int | None = None,
) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """The newest `window` answered requests (by the stable or canary version, or only `version_id`) as a frame
    of their logged rows: the inputs, `__prediction__`, `__label__` (only where the label has arrived) and
    `__log_id__`; with the window's first and last times."""
    logs = PredictionLog.objects.filter(deployment=deployment, role__in=ANSWERING_ROLES, status=PredictionLog.Status.OK)
    if version_id is not None:
        logs = logs.filter(version_id=version_id)
    if before_id is not None:
        logs = logs.filter(pk__lt=before_id)
    if after_id is not None:
        logs = logs.filter(pk__gte=after_id)
    now = timezone.now()
    rows = list(
        logs.order_by("-pk").values_list("pk", "inputs", "predictions", "label", "labelled_at", "created_at")[:window]
    )
    records, predictions, labels, ids = [], [], [], []
    for pk, logged, predicted, label, labelled_at, _created in rows:
        arrived = label is not None and labelled_at is not None and labelled_at <= now
        for at, record in enumerate(logged):
            records.append(record)
            predictions.append(predicted[at] if at < len(predicted) else None)
            labels.append(label[at] if arrived and at < len(label) else None)
            ids.append(pk)
    frame = pd.DataFrame.from_records(records, columns=inputs) if records else pd.DataFrame(columns=inputs)
    # Object columns keep each value as it was logged: with a missing label among them, pandas would make every
    # label a float, and 1.0 would no longer equal the prediction 1.
    frame["__prediction__"] = pd.Series(predictions, dtype=object)
    frame["__label__"] = pd.Series(labels, dtype=object)
    frame["__log_id__"] = ids
    span = {"start": rows[-1][5] if rows else None, "end": rows[0][5] if rows else None, "requests": len(rows)}
    return frame.iloc[::-1].reset_index(drop=True), span


def labelled_accuracy(frame: pd.DataFrame) -> tuple[float | None, int]:
    """Accuracy over the rows whose label has arrived, and how many they are."""
    known = frame[frame["__label__"].notna()]
    if known.empty:
        return None, 0
    right = [
        same_value(predicted, label)
        for predicted, label in zip(known["__prediction__"], known["__label__"], strict=True)
    ]
    return float(np.mean(right)), len(known)


def same_value(predicted: object, label: object) -> bool:
    """A prediction equals its label: as numbers when both are numbers (1 and 1.0), else as text."""
    try:
        return float(predicted) == float(label)
    except (TypeError, ValueError):
        return str(predicted) == str(label)


# --- drift reports -----------------------------------------------------------------------------------------


def _tests_check(tests: dict, inputs: list[str]) -> dict:
    checked = {}
    for column, (test, threshold) in (tests or {}).items():
        if column not in inputs:
            raise MonitoringRefused(f"{column!r} is not an input of the model; choose one of {', '.join(inputs)}.")
        if test not in drift.TESTS:
            raise MonitoringRefused(f"There is no test {test!r}; choose one of {', '.join(drift.TESTS)}.")
        if threshold is not None and not 0 < float(threshold) < 100:
            raise MonitoringRefused(f"The threshold of {column!r} is a number above 0, such as 0.05 or 0.1.")
        checked[column] = [test, None if threshold is None else float(threshold)]
    return checked


def _upload_read(raw: bytes) -> pd.DataFrame:
    if not raw:
        raise MonitoringRefused("The uploaded file is empty.")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise MonitoringRefused("The uploaded file is larger than 10 MB; upload a smaller batch.")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except Exception:
        raise MonitoringRefused("The uploaded file is not a CSV file with a header row.") from None
    if frame.empty:
        raise MonitoringRefused("The uploaded CSV has a header but no rows.")
    return frame


def report_start(
    *, owner: User, deployment: Deployment, window: int = 500, tests: dict | None = None, drift_share: float = 0.5,
    upload: bytes | None = None,
) -> DriftReport:  # fmt: skip
    """Queue a drift report of the endpoint's newest `window` requests (or an uploaded CSV batch) against the
    data the serving version was trained on. Refuses, creating nothing, bad tests, a bad file or no requests."""
    if deployment.owner_id != owner.pk:
        raise MonitoringRefused("There is no such endpoint of yours.", status=404)
    deployment = _live(deployment)
    version = serving_version(deployment)
    inputs = input_names(version)
    tests = _tests_check(tests or {}, inputs)
    if not 0 < drift_share <= 1:
        raise MonitoringRefused("The drift share is the share of drifted columns that makes the data drifted, 0 to 1.")
    upload_file = ""
    if upload is not None:
        frame = _upload_read(upload)
        common = [name for name in inputs if name in frame.columns]
        if not common:
            raise MonitoringRefused(
                f"The uploaded CSV has none of the model's inputs ({', '.join(inputs)}); its columns are "
                f"{', '.join(map(str, frame.columns[:10]))}."
            )
        upload_file = default_storage.save(f"monitoring/{owner.pk}/{uuid.uuid4().hex}.csv", ContentFile(upload))
        source, window = DriftReport.Source.UPLOAD, 0
    else:
        if not 10 <= window <= MAX_WINDOW:
            raise MonitoringRefused(f"A window holds between 10 and {MAX_WINDOW:,} requests.")
        if not PredictionLog.objects.filter(deployment=deployment, role__in=ANSWERING_ROLES).exists():
            raise MonitoringRefused(
                "This endpoint has answered no requests yet, so there is no current window; send traffic first.",
                status=409,
            )
        source = DriftReport.Source.WINDOW
    try:
        with transaction.atomic():
            report = DriftReport.objects.create(
                owner=owner, deployment=deployment, version=version, reference=version.dataset_version,
                source=source, window=window, upload_file=upload_file, tests=tests, drift_share=drift_share,
            )  # fmt: skip
            job = _queue(owner, DRIFT_REPORT, {"report_id": report.pk})
            DriftReport.objects.filter(pk=report.pk).update(job=job)
    except MonitoringRefused:
        # A full or unreachable queue: the report's row went with the transaction, and its upload goes too.
        if upload_file:
            with contextlib.suppress(StorageUnavailable, OSError):
                default_storage.delete(upload_file)
        raise
    report.refresh_from_db()
    return report


def _side_drift(reference: pd.Series, current: pd.Series, kind: str) -> dict:
    reference, current = reference.dropna(), current.dropna()
    if reference.empty or current.empty:
        return {}
    # Classes compare as text (the reference's 1 and a logged 1 alike); a regression's numbers as numbers.
    cast = str if kind == "cat" else float
    try:
        return drift.column_drift(reference.astype(cast), current.astype(cast), kind=kind).as_dict()
    except drift.DriftInputError as problem:
        return {"error": str(problem)}


def report_compute(report: DriftReport, *, on_progress: ProgressCallback | None = None) -> DriftReport:
    """Run the detector for a pending report and store what it found (or why it could not)."""
    progress = on_progress or (lambda percent, message: None)
    version = report.version or serving_version(report.deployment)
    inputs = input_names(version)
    progress(10, "Reading the reference: the model's training data")
    reference = training_frame(version)
    progress(30, "Reading the current window")
    if report.source == DriftReport.Source.UPLOAD:
        with default_storage.open(report.upload_file, "rb") as handle:
            current = _upload_read(handle.read())
        span = {"start": None, "end": None, "requests": len(current)}
        current_labels = current.get(version.dataset_version.dataset.target)
        current_predictions = None
    else:
        current, span = window_frame(report.deployment, window=report.window, inputs=inputs)
        current_labels = current["__label__"]
        current_predictions = current["__prediction__"]
    columns = [name for name in inputs if name in current.columns]
    progress(50, "Testing every column")
    try:
        result = drift.dataset_drift(
            reference[columns], current[columns], columns=columns,
            tests={name: tuple(choice) for name, choice in report.tests.items() if name in columns},
            drift_share=report.drift_share,
        )  # fmt: skip
    except drift.DriftInputError as problem:
        raise JobError(str(problem)) from None
    progress(80, "Comparing predictions and labels")
    target = version.dataset_version.dataset.target
    kind = "cat" if _is_classification(version) else "num"
    label_drift = _side_drift(reference[target], current_labels, kind) if current_labels is not None else {}
    prediction_drift = {}
    if current_predictions is not None and current_predictions.notna().any():
        try:
            pipeline = artifacts.model_load(version)
            reference_predictions = pd.Series(np.asarray(pipeline.predict(reference[inputs])))
            prediction_drift = _side_drift(reference_predictions, current_predictions, kind)
        except artifacts.ModelFileRefused as refusal:
            prediction_drift = {"error": refusal.message}
    DriftReport.objects.filter(pk=report.pk).update(
        status=DriftReport.Status.DONE, result=result.as_dict(), dataset_drift=result.dataset_drift,
        share_drifted=result.share_drifted, reference_rows=len(reference), current_rows=len(current),
        window_start=span["start"], window_end=span["end"] or timezone.now(), label_drift=label_drift,
        prediction_drift=prediction_drift, finished_at=timezone.now(),
    )  # fmt: skip
    report.refresh_from_db()
    if report.deployment_id is not None:
        drifted = [column.column for column in result.columns if column.drifted]
        if result.dataset_drift:
            event_add(
                report.deployment_id, MonitoringEvent.Kind.ALERT,
                f"Drift detected: {len(drifted)} of {len(result.columns)} columns drifted "
                f"({', '.join(drifted[:5])}{'…' if len(drifted) > 5 else ''}).",
                report=report,
            )  # fmt: skip
        else:
            event_add(
                report.deployment_id, MonitoringEvent.Kind.CHECK,
                f"No dataset drift: {len(drifted)} of {len(result.columns)} columns drifted.", report=report,
            )  # fmt: skip
    progress_refresh(user=report.owner)
    return report


def report_fail_with_job(job_id: int, error: str) -> None:
    DriftReport.objects.filter(job_id=job_id, status=DriftReport.Status.PENDING).update(
        status=DriftReport.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


# --- the drift policy and the retraining loop ------------------------------------------------------------


def policy_save(
    *, deployment: Deployment, enabled: bool = True, every_minutes: int | None = None,
    every_requests: int | None = None, window: int = 500, drift_share: float = 0.5, retrain: bool = False,
    algorithm: str = "", recent_only: bool = False, canary_percent: int = 20, promote: bool = False,
    promote_after: int = 50,
) -> DriftPolicy:  # fmt: skip
    if every_minutes is not None and not 1 <= every_minutes <= 1440:
        raise MonitoringRefused("Check every 1 to 1,440 minutes.")
    if every_requests is not None and not 10 <= every_requests <= 100_000:
        raise MonitoringRefused("Check after every 10 to 100,000 requests.")
    if enabled and not every_minutes and not every_requests:
        raise MonitoringRefused("Say when to check: every N minutes, after every K requests, or both.")
    if not 10 <= window <= MAX_WINDOW:
        raise MonitoringRefused(f"A check reads between 10 and {MAX_WINDOW:,} requests.")
    if not 0 < drift_share <= 1:
        raise MonitoringRefused("The drift share is between 0 and 1, such as 0.5.")
    if not 1 <= canary_percent <= 99:
        raise MonitoringRefused("The retrained version's canary gets between 1 and 99 percent of the requests.")
    if not 10 <= promote_after <= 10_000:
        raise MonitoringRefused("Promote after 10 to 10,000 labelled requests.")
    if algorithm:
        training = lazy_module("sandbox.ml.training")
        version = serving_version(_live(deployment))
        chosen = training.ALGORITHMS.get(algorithm)
        if chosen is None or chosen.task != version.dataset_version.dataset.task:
            raise MonitoringRefused(f"There is no {version.dataset_version.dataset.task} algorithm {algorithm!r}.")
    newest = PredictionLog.objects.filter(deployment=deployment).aggregate(newest=Max("pk"))["newest"] or 0
    policy, _created = DriftPolicy.objects.update_or_create(
        deployment=deployment,
        defaults={
            "enabled": enabled, "every_minutes": every_minutes, "every_requests": every_requests, "window": window,
            "drift_share": drift_share, "retrain": retrain, "algorithm": algorithm, "recent_only": recent_only,
            "canary_percent": canary_percent, "promote": promote, "promote_after": promote_after,
        },
        create_defaults={
            "enabled": enabled, "every_minutes": every_minutes, "every_requests": every_requests, "window": window,
            "drift_share": drift_share, "retrain": retrain, "algorithm": algorithm, "recent_only": recent_only,
            "canary_percent": canary_percent, "promote": promote, "promote_after": promote_after,
            "last_checked_log_id": newest, "last_checked_at": timezone.now(),
        },
    )  # fmt: skip
    return policy


def _new_requests(policy: DriftPolicy) -> tuple[int, int]:
    logs = PredictionLog.objects.filter(
        deployment_id=policy.deployment_id, pk__gt=policy.last_checked_log_id, role__in=ANSWERING_ROLES
    )
    newest = logs.aggregate(newest=Max("pk"))["newest"]
    if newest is None:
        return 0, policy.last_checked_log_id
    return logs.count(), newest


def policy_check_if_due(policy: DriftPolicy, *, now: timezone.datetime | None = None) -> DriftReport | None:
    """Run the policy's drift check when it is due, claiming the check first so that two ticks never run it
    twice; then act on what it found. Returns the report, or None when nothing was due."""
    now = now or timezone.now()
    if not policy.enabled:
        return None
    count, newest = _new_requests(policy)
    by_requests = bool(policy.every_requests) and count >= policy.every_requests
    by_time = (
        bool(policy.every_minutes) and count > 0
        and (policy.last_checked_at is None or now - policy.last_checked_at >= timedelta(minutes=policy.every_minutes))
    )  # fmt: skip
    if not (by_requests or by_time):
        return None
    claimed = DriftPolicy.objects.filter(pk=policy.pk, last_checked_log_id=policy.last_checked_log_id).update(
        last_checked_log_id=newest, last_checked_at=now
    )
    if not claimed:
        return None
    policy.refresh_from_db()
    deployment = policy.deployment
    if deployment.status != Deployment.Status.LIVE:
        return None
    version = serving_version(deployment)
    report = DriftReport.objects.create(
        owner=deployment.owner, deployment=deployment, version=version, reference=version.dataset_version,
        source=DriftReport.Source.WINDOW, trigger=DriftReport.Trigger.POLICY, window=policy.window,
        tests=policy.tests, drift_share=policy.drift_share,
    )  # fmt: skip
    try:
        report = report_compute(report)
    except JobError as problem:
        DriftReport.objects.filter(pk=report.pk).update(
            status=DriftReport.Status.FAILED, error=str(problem), finished_at=timezone.now()
        )
        event_add(deployment, MonitoringEvent.Kind.CHECK, f"The policy's drift check could not run: {problem}")
        return report
    if report.dataset_drift and policy.retrain:
        _retrain_for_policy(policy, report)
    return report


def _retrain_for_policy(policy: DriftPolicy, report: DriftReport) -> None:
    deployment = policy.deployment
    running = policy.retrain_job_id and Job.objects.filter(pk=policy.retrain_job_id, status__in=Job.ACTIVE).exists()
    if running:
        event_add(
            deployment, MonitoringEvent.Kind.SKIPPED,
            "Drift again, but a retraining is already running; no second one was queued.", report=report,
        )  # fmt: skip
        return
    if policy.cooldown_until and policy.cooldown_until > timezone.now():
        event_add(
            deployment, MonitoringEvent.Kind.SKIPPED,
            "Drift again, within the cooldown after the last retraining; no retraining was queued.", report=report,
        )  # fmt: skip
        return
    if deployment.strategy in (Strategy.CANARY, Strategy.SHADOW) and deployment.candidate_version_id:
        event_add(
            deployment, MonitoringEvent.Kind.SKIPPED,
            "Drift again, but a candidate is already out beside the stable version; promote or roll it back first.",
            report=report,
        )  # fmt: skip
        return
    try:
        job = retrain_start(
            deployment=deployment, report=report, algorithm=policy.algorithm, recent_only=policy.recent_only,
            canary_percent=policy.canary_percent, policy=policy,
        )  # fmt: skip
    except MonitoringRefused as refusal:
        event_add(deployment, MonitoringEvent.Kind.SKIPPED, f"No retraining was queued: {refusal.message}")
        return
    DriftPolicy.objects.filter(pk=policy.pk).update(retrain_job=job, cooldown_until=timezone.now() + COOLDOWN)


def retrain_start(
    *, deployment: Deployment, report: DriftReport | None = None, algorithm: str = "", recent_only: bool = False,
    canary_percent: int = 20, policy: DriftPolicy | None = None, rows: int = RETRAIN_ROWS,
) -> Job:  # fmt: skip
    """Queue a retraining of the endpoint's stable version on its training data plus the recent labelled
    requests (or those alone); the job registers the new version, runs the gate and deploys a canary."""
    deployment = _live(deployment)
    if not 1 <= canary_percent <= 99:
        raise MonitoringRefused("The canary gets between 1 and 99 percent of the requests.")
    if not RETRAIN_MIN_ROWS <= rows <= RETRAIN_ROWS:
        raise MonitoringRefused(f"Retrain on the newest {RETRAIN_MIN_ROWS} to {RETRAIN_ROWS:,} labelled requests.")
    with transaction.atomic():
        locked = DriftPolicy.objects.select_for_update().filter(deployment=deployment).first()
        running = locked is not None and locked.retrain_job_id
        if running and Job.objects.filter(pk=locked.retrain_job_id, status__in=Job.ACTIVE).exists():
            raise MonitoringRefused("A retraining of this endpoint is already running; wait for it.", status=409)
        params = {
            "deployment_id": deployment.pk, "report_id": report.pk if report else None, "algorithm": algorithm,
            "recent_only": recent_only, "canary_percent": canary_percent, "rows": rows,
        }  # fmt: skip
        job = _queue(deployment.owner, RETRAIN, params)
        if locked is not None:
            DriftPolicy.objects.filter(pk=locked.pk).update(retrain_job=job)
    event_add(
        deployment, MonitoringEvent.Kind.RETRAIN,
        "Retraining queued" + (f" after drift report #{report.pk}" if report else "") + ".", report=report, job=job,
    )  # fmt: skip
    return job


def _labelled_when_enough(
    deployment: Deployment, rows: int, inputs: list[str], on_progress: ProgressCallback
) -> pd.DataFrame:
    """Those of the newest `rows` requests whose label has arrived. A retraining queued by a drift check
    usually starts before the labels of the requests that showed the drift are in: when too few have arrived
    and enough will within LABEL_WAIT seconds, it waits for them, saying so, rather than fail."""
    deadline = time.monotonic() + LABEL_WAIT.total_seconds()
    while True:
        window, _ = window_frame(deployment, window=rows, inputs=inputs)
        labelled = window[window["__label__"].notna()]
        if len(labelled) >= RETRAIN_MIN_ROWS:
            return labelled
        ids = window["__log_id__"].unique().tolist()
        soon = PredictionLog.objects.filter(
            pk__in=ids, label__isnull=False, labelled_at__gt=timezone.now(),
            labelled_at__lte=timezone.now() + LABEL_WAIT,
        ).count()  # fmt: skip
        if len(labelled) + soon < RETRAIN_MIN_ROWS or time.monotonic() > deadline:
            return labelled
        on_progress(5, f"Waiting for labels: {len(labelled)} arrived, {soon} more on their way")
        time.sleep(1)


def retrain_run(*, job: Job, on_progress: ProgressCallback) -> dict:
    """The retraining job: data, a tracked run, a registered version, the validation gate, a canary."""
    from sandbox.datasets.services import DatasetRefused, version_add
    from sandbox.registry.models import Validation
    from sandbox.registry.services import RegistryRefused, model_version_register, validation_run
    from sandbox.serving.services import ServingRefused, release_start
    from sandbox.tracking.services import environment
    from sandbox.tracking.services import run_train as train_run

    params = job.params
    deployment = _live(Deployment.objects.get(pk=params["deployment_id"]))
    version = serving_version(deployment)
    dataset = version.dataset_version.dataset
    inputs = input_names(version)
    on_progress(5, "Collecting recent labelled requests")
    labelled = _labelled_when_enough(deployment, int(params.get("rows") or RETRAIN_ROWS), inputs, on_progress)
    if len(labelled) < RETRAIN_MIN_ROWS:
        raise JobError(
            f"Only {len(labelled)} requests have labels so far; retraining needs at least {RETRAIN_MIN_ROWS}. "
            "Wait for labels to arrive (or send more traffic) and retrain again."
        )
    reference = training_frame(version)
    recent = labelled[inputs].copy()
    recent[dataset.target] = labelled["__label__"].to_numpy()
    recent = recent.astype({name: reference[name].dtype for name in [*inputs, dataset.target]
                            if pd.api.types.is_numeric_dtype(reference[name]) and recent[name].notna().all()},
                           errors="ignore")  # fmt: skip
    frame = recent if params.get("recent_only") else pd.concat([reference[recent.columns], recent], ignore_index=True)
    frame = frame[[name for name in reference.columns if name in frame.columns]]
    on_progress(15, f"Saving {len(frame):,} rows as a new version of {dataset.name}")
    try:
        data, _ = version_add(dataset=dataset, frame=frame, settings={"retrained_from": version.pk})
    except DatasetRefused as refusal:
        raise JobError(refusal.message) from None
    base = version.run
    algorithm = params.get("algorithm") or base.algorithm
    from sandbox.tracking.models import Run

    training = lazy_module("sandbox.ml.training")
    chosen = training.ALGORITHMS[algorithm]
    try:
        run_params = training.check_params(chosen, base.params if algorithm == base.algorithm else {})
        training.check_work(
            chosen, run_params, data.rows, data.columns, int(base.split.get("cv_folds") or 0),
            classes=version_class_count(version=data), scaled=bool(base.preparation.get("scale", True)),
        )  # fmt: skip
    except training.ParamError as problem:
        raise JobError(f"The retraining would not fit its job: {problem}") from None
    number = base.experiment.runs.count() + 1
    run = Run.objects.create(
        experiment=base.experiment, owner=base.owner, dataset_version=data,
        name=f"retrain-{algorithm.replace('_', '-')}-{number}", algorithm=algorithm, params=run_params,
        preparation=base.preparation, split=base.split, seed=base.seed, job=job, environment=environment(),
    )  # fmt: skip
    on_progress(20, f"Training run {run.name}")
    train_run(run_id=run.pk, on_progress=lambda percent, message: on_progress(20 + percent * 45 // 100, message))
    run.refresh_from_db()
    try:
        new = model_version_register(
            run=run, registered_model=deployment.registered_model,
            description=f"Retrained on drift at endpoint {deployment.name}.",
        )  # fmt: skip
    except RegistryRefused as refusal:
        raise JobError(refusal.message) from None
    ModelVersion.objects.filter(pk=new.pk).update(tags={**new.tags, "retrained": "drift", "endpoint": deployment.name})
    report = DriftReport.objects.filter(pk=params.get("report_id")).first()
    event_add(
        deployment, MonitoringEvent.Kind.RETRAIN,
        f"Retrained: run {run.name} on {len(frame):,} rows ({len(labelled):,} recent labelled) registered as "
        f"version {new.number}.", report=report, job=job, version=new,
    )  # fmt: skip
    on_progress(70, "Running the validation gate")
    validation = Validation.objects.create(
        registered_model=deployment.registered_model, owner=deployment.owner, version=new, alias="challenger",
        champion_id=None, tolerance=0.01, latency_limit_ms=50.0, job=job,
        reason=f"Retrained on drift at endpoint {deployment.name}",
    )  # fmt: skip
    validation = validation_run(
        validation_id=validation.pk, on_progress=lambda percent, message: on_progress(70 + percent // 5, message)
    )
    failed = [check["label"] for check in validation.checks if not check["passed"]]
    if failed:
        event_add(
            deployment, MonitoringEvent.Kind.GATE,
            f"Version {new.number} failed the validation gate ({', '.join(failed)}); it was not deployed.",
            job=job, version=new,
        )  # fmt: skip
        return {"version_id": new.pk, "validation_id": validation.pk, "deployed": False}
    event_add(deployment, MonitoringEvent.Kind.GATE, f"Version {new.number} passed the validation gate.", version=new)
    on_progress(92, "Deploying the new version as a canary")
    try:
        release = release_start(
            deployment=deployment, actor=deployment.owner, version=new, strategy=Strategy.CANARY,
            canary_percent=int(params.get("canary_percent") or 20),
            reason=f"Retrained on drift (report #{report.pk})" if report else "Retrained on recent labelled data",
        )  # fmt: skip
    except (ServingRefused, JobRefused) as refusal:
        raise JobError(f"Version {new.number} passed its gate but could not be deployed: {refusal.message}") from None
    event_add(
        deployment, MonitoringEvent.Kind.CANARY,
        f"Version {new.number} is going out as a canary at {release.canary_percent} % (release {release.number}).",
        job=release.job, version=new,
    )  # fmt: skip
    return {"version_id": new.pk, "validation_id": validation.pk, "release_id": release.pk, "deployed": True}


def canary_review(policy: DriftPolicy) -> bool:
    """Promote the live canary once it answered `promote_after` labelled requests at least as accurately as the
    stable version over the same time; True when it did."""
    from sandbox.serving.services import ServingRefused, deployment_promote

    deployment = Deployment.objects.get(pk=policy.deployment_id)
    if not (policy.enabled and policy.promote) or deployment.status != Deployment.Status.LIVE:
        return False
    if deployment.strategy != Strategy.CANARY or deployment.candidate_version_id is None:
        return False
    release_id = deployment.current_release_id
    inputs = input_names(serving_version(deployment))
    since = PredictionLog.objects.filter(release_id=release_id).order_by("pk").values_list("pk", flat=True).first()
    if since is None:
        return False
    canary, _ = window_frame(
        deployment, window=policy.promote_after * 4, inputs=inputs, version_id=deployment.candidate_version_id,
        after_id=since,
    )  # fmt: skip
    stable, _ = window_frame(
        deployment, window=policy.promote_after * 4, inputs=inputs, version_id=deployment.stable_version_id,
        after_id=since,
    )  # fmt: skip
    canary_accuracy, canary_labelled = labelled_accuracy(canary)
    stable_accuracy, _ = labelled_accuracy(stable)
    if canary_labelled < policy.promote_after or canary_accuracy is None:
        return False
    candidate = ModelVersion.objects.get(pk=deployment.candidate_version_id)
    if stable_accuracy is not None and canary_accuracy < stable_accuracy:
        already = MonitoringEvent.objects.filter(
            deployment=deployment, kind=MonitoringEvent.Kind.SKIPPED, details__release_id=release_id
        ).exists()
        if not already:
            event_add(
                deployment, MonitoringEvent.Kind.SKIPPED,
                f"Canary version {candidate.number} is less accurate ({canary_accuracy:.1%}) than the stable "
                f"version ({stable_accuracy:.1%}) on labelled requests; it was not promoted.",
                version=candidate, release_id=release_id,
            )  # fmt: skip
        return False
    try:
        deployment_promote(
            deployment=deployment, actor=deployment.owner,
            reason=f"Canary accuracy {canary_accuracy:.1%} on {canary_labelled} labelled requests",
        )  # fmt: skip
    except ServingRefused:
        return False
    shown = f" against the stable version's {stable_accuracy:.1%}" if stable_accuracy is not None else ""
    event_add(
        deployment, MonitoringEvent.Kind.PROMOTE,
        f"Version {candidate.number} promoted: {canary_accuracy:.1%} accurate on {canary_labelled} labelled "
        f"requests{shown}.", version=candidate,
    )  # fmt: skip
    return True


def policy_after_requests(deployment: Deployment) -> None:
    """After a batch of requests: the policy's check, when K requests are due, and the canary's review."""
    policy = DriftPolicy.objects.filter(deployment=deployment, enabled=True).select_related("deployment").first()
    if policy is None:
        return
    policy_check_if_due(policy)
    canary_review(policy)


def policies_tick(*, now: timezone.datetime | None = None) -> int:
    """Beat's round over every enabled policy: checks that are due by time or by requests, canary reviews."""
    checked = 0
    for policy in DriftPolicy.objects.filter(enabled=True).select_related("deployment"):
        if policy_check_if_due(policy, now=now) is not None:
            checked += 1
        canary_review(policy)
    return checked


def retrain_fail_with_job(job_id: int, error: str) -> None:
    from sandbox.registry.services import validations_fail_with_job
    from sandbox.tracking.services import runs_fail_with_job

    runs_fail_with_job(job_id, error)
    validations_fail_with_job(job_id, error)
    job = Job.objects.filter(pk=job_id).values_list("params", flat=True).first() or {}
    deployment_id = job.get("deployment_id")
    if deployment_id and Deployment.objects.filter(pk=deployment_id).exists():
        event_add(deployment_id, MonitoringEvent.Kind.RETRAIN, f"Retraining failed: {error}", job=job_id)
