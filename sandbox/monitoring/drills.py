"""Incident drills: the learner's model behind an endpoint of its own, hidden traffic with one undisclosed fault,
the learner's report and fix, a check that the fix restored the service level, and the score.

The life of a drill, one status at a time:

- starting: `drill_start` queues the endpoint's deploy job and then the drill's own job (`drill_run`), which waits
  for the endpoint to go live;
- running: the drill's job sends a baseline of normal traffic, then the fault (a drifted feature, a concept change,
  a label-balance change, a broken upstream column or a slower release) and traffic under it, as two hidden traffic
  runs through the endpoint's real serving path. The learner reports the cause (`drill_report`) and, once the
  traffic has been sent, applies a fix (`drill_fix`);
- verifying: a second job (`drill_verify_run`) waits for the fix to serve, sends traffic with the fault still
  present and measures whether the service level is back to the baseline's;
- finished: scored out of 100 (detection time 40, cause 30, fix 30), and only now does the drill say what the fault
  was. A drill whose traffic could not be sent ends failed, unscored.

Nothing a learner can read names the fault before the drill is scored: the job's messages, the traffic runs' public
fields and the timeline say the same whatever the fault is. The fault's details live in `Drill.fault`,
`Drill.fault_column` and `Drill.verification["plan"]`, which only the scored drill's page shows.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.jobs.models import Job
from sandbox.jobs.registry import JobError, ProgressCallback
from sandbox.jobs.services import job_create_or_refuse, job_execute
from sandbox.monitoring import services as monitoring
from sandbox.monitoring.models import DriftReport, Drill, MonitoringEvent, Scenario, TrafficRun
from sandbox.registry.models import ModelVersion
from sandbox.serving import services as serving
from sandbox.serving.models import Deployment, PredictionLog, Release, Strategy

np = lazy_module("numpy")
pd = lazy_module("pandas")
artifacts = lazy_module("sandbox.registry.artifacts")

DRILL = "drill"
DRILL_VERIFY = "drill_verify"

Fault = Drill.Fault
Fix = Drill.Fix
Status = Drill.Status
ACTIVE = (Status.STARTING, Status.RUNNING, Status.VERIFYING)
OVER = (Status.FINISHED, Status.FAILED)
# The report's column for faults that have none (latency, concept, label balance).
NO_COLUMN = "none"
COLUMN_FAULTS = (Fault.DATA, Fault.NULLS)

# Sizes and pace of the drill's traffic; a test setting of the same name overrides each (small, fast drills).
DEFAULTS = {
    "DRILL_BASELINE_REQUESTS": 300,
    "DRILL_FAULT_REQUESTS": 200,
    "DRILL_VERIFY_REQUESTS": 150,
    "DRILL_RATE": 20.0,
    "DRILL_LABEL_DELAY": 3,
    "DRILL_WAIT_SECONDS": 90,
    "DRILL_LATENCY_MS": (150, 250),
    # None draws among every fault the model can take; a list narrows the draw (tests choose their fault so).
    "DRILL_FAULTS": None,
}
# What the endpoint itself takes per request beyond the added latency, allowed for when a job's traffic is sized
# to end within the worker's time limit; and the time kept free for everything but the traffic.
REQUEST_ALLOWANCE_SECONDS = 0.01
MARGIN_SECONDS = 15

# The faults' sizes.
SHIFT_SD = (1.5, 2.0)
NULL_SHARE = 0.6
MINORITY_SHARE = 0.75
# A drifted feature is drawn among those whose shift costs the model at least this much accuracy (or R²) on a
# sample of its training data, so the drill's service level really drops; any numeric feature when none does.
HARMFUL = 0.05
HARM_ROWS = 400

# The service level: accuracy (R² for a regression) within 5 points of the baseline's, p95 latency within
# 1.5 × the baseline's + 20 ms, and requests that leave the broken column empty refused rather than answered.
LEVEL_WITHIN = 0.05
LATENCY_FACTOR = 1.5
LATENCY_SLACK_MS = 20.0

# The score: detection 40 within 2 minutes, falling linearly to 10 at 15 minutes and 0 after; the cause 30 (20
# and 10 for the column where the fault has one); the fix 30 when it restored the service level.
DETECT_POINTS, DETECT_FLOOR = 40, 10
DETECT_FULL_SECONDS, DETECT_LAST_SECONDS = 120, 900
CAUSE_POINTS, CAUSE_WITH_COLUMN, COLUMN_POINTS = 30, 20, 10
FIX_POINTS = 30
RETRAIN_CANARY_PERCENT = 20
# A retraining fix runs three jobs: the retraining, its canary's deploy and the check of the fix.
RETRAIN_JOBS = 3
HISTORY = 50


class DrillRefused(Refused):
    """Nothing was started or changed; the message says why, for the learner."""


def _setting(name: str) -> object:
    return getattr(settings, name, DEFAULTS[name])


# --- reads -------------------------------------------------------------------------------------------------


def drills_owned(*, owner: User, limit: int = HISTORY) -> list[Drill]:
    return list(Drill.objects.filter(owner=owner).select_related("version__registered_model", "deployment")[:limit])


def drill_get_owned(*, owner: User, drill_id: int) -> Drill:
    """The learner's own drill, or 404: another learner's id looks like no drill at all."""
    return get_object_or_404(
        Drill.objects.select_related("version__registered_model", "version__run", "deployment", "job"),
        pk=drill_id, owner=owner,
    )  # fmt: skip


def drill_running(*, owner: User) -> Drill | None:
    return Drill.objects.filter(owner=owner, status__in=ACTIVE).first()


def versions_for_drills(*, owner: User) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(owner=owner, status=ModelVersion.Status.READY)
        .select_related("registered_model", "run")
        .order_by("registered_model__name", "-number")
    )


def revealed(drill: Drill) -> bool:
    """Whether the drill may say what its fault was: once reported and over. After the report alone it still may
    not, or the fix would be chosen knowing the answer."""
    return drill.reported_at is not None and drill.status in OVER


def input_names(version: ModelVersion) -> list[str]:
    return [column["name"] for column in version.signature]


# --- which faults a model can take ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    numeric: list[str]
    """Numeric inputs with more than 5 distinct values: a shift or a concept change reads on them."""
    optional: list[str]
    """Inputs a request may leave empty and the model imputes: a broken column is answered, not refused."""
    classes: list[str]
    """The classes, most frequent first (empty for a regression)."""
    classification: bool


def candidates(version: ModelVersion, frame: pd.DataFrame) -> Candidates:
    numeric_types = ("double", "float", "long", "integer")
    numeric = [
        column["name"] for column in version.signature
        if column["type"] in numeric_types and column["name"] in frame.columns and frame[column["name"]].nunique() > 5
    ]  # fmt: skip
    # A required column's nulls are refused by the scoring protocol already, and so is a null in a whole-number
    # or boolean column; only the others reach the model, which imputes them when it was trained to.
    imputes = (version.run.preparation or {}).get("impute", "median") != "none"
    optional = [
        column["name"] for column in version.signature
        if imputes and not column.get("required", True) and column["type"] in ("double", "float", "string")
    ]  # fmt: skip
    dataset = version.dataset_version.dataset
    classification = dataset.task == "classification"
    classes = [str(value) for value in frame[dataset.target].value_counts().index] if classification else []
    return Candidates(numeric=numeric, optional=optional, classes=classes, classification=classification)


def possible_faults(found: Candidates) -> list[str]:
    """The faults this model can take, in Drill.Fault's order. A regression model takes no class change."""
    possible = {Fault.LATENCY}
    if found.numeric:
        possible.add(Fault.DATA)
    if found.optional:
        possible.add(Fault.NULLS)
    if found.classification and len(found.classes) >= 2:
        possible.add(Fault.LABEL)
        if found.numeric:
            possible.add(Fault.CONCEPT)
    return [fault for fault in Fault.values if fault in possible]


def _training_frame(version: ModelVersion) -> pd.DataFrame:
    """The data a drill draws its traffic from, or a refusal saying why there is none."""
    data = version.dataset_version
    try:
        frame = monitoring.training_frame(version)
    except (OSError, ValueError):
        raise DrillRefused(
            f"Version {version.number}'s training data ({data.dataset.name} v{data.number}) cannot be read, and a "
            "drill draws its live traffic from it; choose another version.",
            status=409,
        ) from None
    missing = [name for name in [*input_names(version), data.dataset.target] if name not in frame.columns]
    if frame.empty or missing:
        raise DrillRefused(
            f"Version {version.number}'s training data has no rows with its inputs to draw live traffic from; "
            "choose another version.",
            status=409,
        )
    return frame


# --- starting a drill ----------------------------------------------------------------------------------------


def _clear_finished(owner: User) -> int:
    """Take down the endpoints of the learner's finished drills (the drills, their reports and scores stay), so
    drills do not use up the endpoint cap. One whose job still runs or whose release still deploys is left."""
    cleared = 0
    finished = Drill.objects.filter(owner=owner, status__in=OVER, deployment__isnull=False).select_related(
        "deployment", "job"
    )
    for drill in finished:
        if drill.job is not None and not drill.job.is_finished:
            continue
        try:
            serving.deployment_delete(deployment=drill.deployment)
        except serving.ServingRefused:
            continue
        cleared += 1
    return cleared


def _endpoint_name(drill: Drill) -> str:
    name = f"drill-{drill.pk}"
    if Deployment.objects.filter(name=name).exists():
        # Someone named an endpoint so by hand; endpoint names are unique across the site.
        name = f"drill-{drill.pk}-{secrets.token_hex(3)}"
    return name


def drill_start(*, owner: User, version: ModelVersion, fault: str | None = None) -> Drill:
    """Start a drill on one of the learner's versions: its endpoint's deploy job and the drill's job are queued,
    and the fault is drawn at random among those the model can take (`fault` chooses it, for tests).

    Refuses, changing nothing: another learner's version (404), a version whose training data cannot be read, a
    drill already running (409), the endpoint cap (409) and a full job queue (429, 503)."""
    if version.owner_id != owner.pk:
        raise DrillRefused("There is no such model version of yours.", status=404)
    if version.status != ModelVersion.Status.READY:
        raise DrillRefused(f"Version {version.number} is not ready to deploy.", status=409)
    running = drill_running(owner=owner)
    if running is not None:
        raise DrillRefused(
            f"Drill #{running.pk} is still running; finish it (or end it) before starting another.", status=409
        )
    frame = _training_frame(version)
    possible = possible_faults(candidates(version, frame))
    allowed = _setting("DRILL_FAULTS")
    if allowed:
        possible = [choice for choice in possible if choice in allowed]
    if fault is not None and fault not in possible:
        raise DrillRefused(f"This model cannot take the fault {fault!r}.")
    if not possible:
        raise DrillRefused("None of the drill's faults fits this model; choose another version.")
    fault = fault or random.SystemRandom().choice(possible)
    with transaction.atomic():
        # Serialises two starts by one learner, so that both cannot pass the check for a running drill.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        running = drill_running(owner=owner)
        if running is not None:
            raise DrillRefused(f"Drill #{running.pk} is still running; finish it first.", status=409)
        _clear_finished(owner)
        endpoints = Deployment.objects.filter(owner=owner).count()
        if endpoints >= serving.MAX_DEPLOYMENTS:
            raise DrillRefused(
                f"A drill deploys your model behind an endpoint of its own, and you have {endpoints} endpoints, the "
                "most allowed; delete one on the deployments page first.",
                status=409,
            )
        drill = Drill.objects.create(owner=owner, version=version, fault=fault, status=Status.STARTING)
        try:
            deployment = serving.deployment_create(
                owner=owner, name=_endpoint_name(drill), registered_model=version.registered_model, version=version,
                reason=f"Incident drill #{drill.pk}",
            )  # fmt: skip
            # Queued after the deploy job: a worker taking jobs in order deploys the endpoint first.
            job = job_create_or_refuse(owner=owner, kind=DRILL, params={"drill_id": drill.pk})
        except Refused as refusal:
            raise DrillRefused(refusal.message, status=refusal.status) from None
        Drill.objects.filter(pk=drill.pk).update(deployment=deployment, job=job)
        monitoring.event_add(
            deployment, MonitoringEvent.Kind.DRILL,
            f"Incident drill #{drill.pk} started: version {version.number} of {version.registered_model.name} serves "
            "here, and hidden traffic is on its way.", job=job, version=version,
        )  # fmt: skip
    drill.refresh_from_db()
    return drill


# --- the drill's job: baseline, then the fault -----------------------------------------------------------------


def _seconds_per_request(rate: float, latency_ms: float = 0.0) -> float:
    """How long the simulator takes per request: its pace, or the endpoint's answer when that is slower (the
    simulator waits for each answer before it sends the next)."""
    return max(1.0 / rate, latency_ms / 1000 + REQUEST_ALLOWANCE_SECONDS)


def _wait_bound(planned_seconds: float) -> float:
    """How long a job may wait for what it needs before its traffic, so that the traffic still ends within the
    worker's time limit."""
    room = settings.JOB_SOFT_TIME_LIMIT - planned_seconds - MARGIN_SECONDS
    return max(5.0, min(float(_setting("DRILL_WAIT_SECONDS")), room))


def _run_if_queued(job_id: int | None) -> None:
    """Run a job this one waits for, here, when no worker has taken it yet. A worker that takes jobs one at a time
    in order would reach it only after this job, which waits for it: running it here through the same claim is
    what a free worker would do, and the claim lets only one of us run it."""
    if job_id is not None and Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).exists():
        job_execute(job_id=job_id)


def _wait(check: Callable[[], object], seconds: float, what: str) -> object:
    """Poll `check` until it returns something true, at most `seconds`; a JobError naming `what` after that."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise JobError(f"{what} did not happen within {seconds:.0f} seconds.")
        time.sleep(0.5)


def _deployment_live(drill: Drill, seconds: float) -> Deployment:
    def live() -> Deployment | None:
        deployment = Deployment.objects.filter(pk=drill.deployment_id).first()
        if deployment is None:
            raise JobError("The drill's endpoint was deleted before the drill began.")
        if deployment.status == Deployment.Status.FAILED:
            release = deployment.releases.order_by("-number").first()
            raise JobError(f"The drill's endpoint could not be deployed: {release.error if release else 'no release'}")
        if deployment.status != Deployment.Status.LIVE:
            pending = deployment.releases.filter(status=Release.Status.PENDING).values_list("job_id", flat=True)
            _run_if_queued(pending.first())
            return None
        return deployment

    return _wait(live, seconds, "The drill's endpoint going live")


def _level(predicted: object, truth: object, classification: bool) -> float | None:
    """The service level of predictions against the truth: accuracy, or R² for a regression."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if len(truth) == 0:
        return None
    if classification:
        return float(np.mean(predicted.astype(str) == truth.astype(str)))
    predicted, truth = predicted.astype(float), truth.astype(float)
    spread = float(((truth - truth.mean()) ** 2).sum())
    if spread == 0:
        return None
    return 1.0 - float(((truth - predicted) ** 2).sum()) / spread


def _harmful_feature(
    version: ModelVersion, frame: pd.DataFrame, numeric: list[str], amount: float, chooser: random.Random
) -> str:
    """A numeric input whose shift by `amount` standard deviations costs the model at least HARMFUL of its
    accuracy (R²) on a sample of its training data, drawn at random among those that do; when none does (a
    model that leans on many inputs shrugs off one), among the three that cost it most."""
    dataset = version.dataset_version.dataset
    classification = dataset.task == "classification"
    sample = frame.sample(n=min(HARM_ROWS, len(frame)), random_state=chooser.randrange(2**31))
    x, truth = sample[input_names(version)], sample[dataset.target].to_numpy()
    harm: dict[str, float] = {}
    try:
        pipeline = artifacts.model_load(version)
        base = _level(pipeline.predict(x), truth, classification)
        for name in numeric:
            shifted = x.copy()
            shifted[name] = shifted[name].astype(float) + amount * (float(frame[name].std()) or 1.0)
            level = _level(pipeline.predict(shifted), truth, classification)
            if base is not None and level is not None:
                harm[name] = base - level
    except Exception:
        # Only a preference: a model that cannot be scored here still drifts, on any numeric feature.
        return chooser.choice(numeric)
    harmful = [name for name, cost in harm.items() if cost >= HARMFUL]
    if not harmful:
        harmful = sorted(harm, key=lambda name: -harm[name])[:3]
    return chooser.choice(harmful or numeric)


def fault_plan(drill: Drill, frame: pd.DataFrame, *, chooser: random.Random | None = None) -> dict:
    """The drawn fault's details: the column, the traffic scenario and its settings, or the added latency."""
    chooser = chooser or random.SystemRandom()
    version = drill.version
    found = candidates(version, frame)
    if drill.fault == Fault.DATA:
        amount = round(chooser.choice([-1, 1]) * chooser.uniform(*SHIFT_SD), 1)
        column = _harmful_feature(version, frame, found.numeric, amount, chooser)
        return {"column": column, "scenario": Scenario.DATA, "settings": {"shift": {column: amount}}, "amount": amount}
    if drill.fault == Fault.CONCEPT:
        column = chooser.choice(found.numeric)
        return {"column": column, "scenario": Scenario.CONCEPT, "settings": {"feature": column}}
    if drill.fault == Fault.LABEL:
        target = version.dataset_version.dataset.target
        shares = frame[target].astype(str).value_counts(normalize=True)
        minority = found.classes[-1]
        others = float(shares.drop(minority).sum()) or 1.0
        balance = {name: (1 - MINORITY_SHARE) * float(share) / others for name, share in shares.items()}
        balance[minority] = MINORITY_SHARE
        return {
            "column": "", "scenario": Scenario.LABEL, "settings": {"balance": balance}, "class": minority,
            "share_before": float(shares[minority]),
        }  # fmt: skip
    if drill.fault == Fault.NULLS:
        column = chooser.choice(found.optional)
        return {"column": column, "scenario": Scenario.NONE, "settings": {"nulls": {column: NULL_SHARE}}}
    low, high = _setting("DRILL_LATENCY_MS")
    return {"column": "", "scenario": Scenario.NONE, "settings": {}, "latency_ms": chooser.randint(low, high)}


def _plan(drill: Drill) -> dict:
    return dict(drill.verification.get("plan") or {})


def _drill_traffic(
    drill: Drill, *, job: Job, requests: int, scenario: str = Scenario.NONE, details: dict | None = None
) -> TrafficRun:
    """A hidden traffic run of the drill's, marked as the drill's in its settings."""
    return TrafficRun.objects.create(
        owner=drill.owner, deployment_id=drill.deployment_id, job=job, scenario=scenario, drift_from=0,
        settings={**(details or {}), "drill": drill.pk}, requests=requests, rate=float(_setting("DRILL_RATE")),
        label_delay=int(_setting("DRILL_LABEL_DELAY")), seed=random.randrange(1_000_000), hidden=True,
    )  # fmt: skip


def _send(run: TrafficRun, token: str, on_progress: ProgressCallback, *, span: tuple[int, int], sent: int,
          total: int) -> TrafficRun:  # fmt: skip
    """Send a run through the endpoint, reporting progress in words that are the same whatever the fault."""
    low, high = span

    def progress(percent: int, _message: str) -> None:
        done = sent + run.requests * percent // 100
        on_progress(low + (high - low) * percent // 100, f"Sending the drill's traffic: {done:,} of {total:,} requests")

    try:
        return monitoring.traffic_send(run_id=run.pk, on_progress=progress, token=token)
    except Refused as refusal:
        raise JobError(refusal.message) from None


def _token(drill: Drill, job: Job) -> tuple[object, str]:
    # The drill calls its endpoint with a token of the learner's own, as any client would, revoked when it stops.
    try:
        return serving.api_token_create(owner=drill.owner, name=f"Incident drill #{drill.pk} (job {job.pk})")
    except Refused as refusal:
        raise JobError(f"The drill could not call its endpoint: {refusal.message}") from None


def drill_run(*, job: Job, on_progress: ProgressCallback) -> dict:
    """The drill's job: wait for its endpoint, send the baseline, start the fault, send traffic under it."""
    drill = Drill.objects.select_related("version__dataset_version__dataset", "version__run", "deployment").get(
        pk=job.params["drill_id"]
    )
    if drill.status != Status.STARTING:
        return {"drill_id": drill.pk, "sent": 0}
    rate = float(_setting("DRILL_RATE"))
    baseline_requests, fault_requests = int(_setting("DRILL_BASELINE_REQUESTS")), int(_setting("DRILL_FAULT_REQUESTS"))
    total = baseline_requests + fault_requests
    slowest = float(_setting("DRILL_LATENCY_MS")[1])
    planned = baseline_requests * _seconds_per_request(rate) + fault_requests * _seconds_per_request(rate, slowest)
    on_progress(1, "Waiting for the drill's endpoint to go live")
    deployment = _deployment_live(drill, _wait_bound(planned))
    if not Drill.objects.filter(pk=drill.pk, status=Status.STARTING).update(status=Status.RUNNING):
        return {"drill_id": drill.pk, "sent": 0}
    try:
        frame = _training_frame(drill.version)
    except DrillRefused as refusal:
        raise JobError(refusal.message) from None
    plan = fault_plan(drill, frame)
    # Each write is to a drill still running: one the learner ended meanwhile keeps what its end recorded.
    running = Drill.objects.filter(pk=drill.pk, status=Status.RUNNING)
    running.update(fault_column=plan["column"], verification={"plan": plan})
    row, token = _token(drill, job)
    try:
        baseline = _drill_traffic(drill, job=job, requests=baseline_requests)
        plan["runs"] = {"baseline": baseline.pk}
        running.update(verification={"plan": plan})
        _send(baseline, token, on_progress, span=(3, 50), sent=0, total=total)
        if not running.exists():
            return {"drill_id": drill.pk, "sent": baseline_requests}
        if plan.get("latency_ms"):
            _slow_release(drill, deployment, plan["latency_ms"])
        faulted = _drill_traffic(
            drill, job=job, requests=fault_requests, scenario=plan["scenario"], details=plan["settings"]
        )
        plan["runs"]["fault"] = faulted.pk
        running.update(fault_at=timezone.now(), verification={"plan": plan})
        _send(faulted, token, on_progress, span=(50, 100), sent=baseline_requests, total=total)
    finally:
        serving.api_token_revoke(token=row)
    return {"drill_id": drill.pk, "sent": total}


def _slow_release(drill: Drill, deployment: Deployment, latency_ms: int) -> Release:
    """The latency fault: a release of what serves now whose every answer waits `latency_ms` longer. Its reason
    reads as a routine rebuild would, since the release history is one of the signals to find."""
    try:
        return serving.release_add_latency(
            deployment=deployment, actor=drill.owner, added_latency_ms=int(latency_ms),
            reason="Routine rebuild of the serving image.",
        )  # fmt: skip
    except Refused as refusal:
        raise JobError(f"The drill could not release on its endpoint: {refusal.message}") from None


def drill_fail_with_job(job_id: int, error: str) -> None:
    """End the drill whose job failed: one still starting or running fails, unscored; one whose fix was being
    checked is scored without the fix's points, saying why."""
    for drill in Drill.objects.filter(job_id=job_id, status__in=ACTIVE).select_related("version", "deployment"):
        if drill.status == Status.VERIFYING:
            _finish(drill, restored=None, why=f"The check of your fix could not finish: {error}")
            continue
        Drill.objects.filter(pk=drill.pk, status__in=ACTIVE).update(
            status=Status.FAILED, error=error[:2000], finished_at=timezone.now()
        )
        if drill.deployment_id and Deployment.objects.filter(pk=drill.deployment_id).exists():
            monitoring.event_add(
                drill.deployment_id, MonitoringEvent.Kind.DRILL, f"Incident drill #{drill.pk} failed: {error}",
                job=job_id,
            )  # fmt: skip


# --- the learner's report and fix ----------------------------------------------------------------------------


def drill_report(*, drill: Drill, cause: str, column: str = "") -> Drill:
    """Record what the learner found (once): the cause and, for a drifted feature or a broken column, the column."""
    if drill.reported_at is not None:
        raise DrillRefused("You already reported this drill's cause.", status=409)
    if drill.status == Status.STARTING:
        raise DrillRefused("The drill's endpoint is still starting; there is nothing to investigate yet.", status=409)
    if drill.status != Status.RUNNING:
        raise DrillRefused("This drill is over; start another to report again.", status=409)
    if cause not in Fault.values:
        raise DrillRefused(f"Choose the cause among the five faults; {cause!r} is not one.")
    column = column.strip()
    if column == NO_COLUMN:
        column = ""
    inputs = input_names(drill.version)
    if column and column not in inputs:
        raise DrillRefused(f"{column!r} is not an input of the model; choose one of its inputs, or none.")
    if cause in COLUMN_FAULTS and not column:
        raise DrillRefused(f"{Fault(cause).label} is in one column: name it.")
    if cause not in COLUMN_FAULTS:
        column = ""
    now = timezone.now()
    reported = Drill.objects.filter(pk=drill.pk, reported_at__isnull=True, status=Status.RUNNING).update(
        reported_at=now, reported_cause=cause, reported_column=column
    )
    if not reported:
        raise DrillRefused("This drill was reported or ended meanwhile.", status=409)
    drill.refresh_from_db()
    if drill.deployment_id:
        monitoring.event_add(
            drill.deployment_id, MonitoringEvent.Kind.DRILL,
            f"Drill #{drill.pk} reported: {Fault(cause).label.lower()}" + (f" in {column}" if column else "") + ".",
        )  # fmt: skip
    return drill


def drill_fix(*, drill: Drill, fix: str, column: str = "") -> Drill:
    """Apply the learner's fix to the drill's endpoint and queue the check of it. A fix that cannot apply (a
    rollback with nothing to return to, a full job queue) is refused and changes nothing."""
    if fix not in Fix.values:
        raise DrillRefused(f"Choose a fix: {', '.join(label.lower() for label in Fix.labels)}.")
    with transaction.atomic():
        locked = (
            Drill.objects.select_for_update(of=("self",))
            .select_related("deployment", "job", "version")
            .get(pk=drill.pk)
        )
        if locked.status == Status.VERIFYING:
            raise DrillRefused("A fix is already being checked.", status=409)
        if locked.status != Status.RUNNING:
            raise DrillRefused("This drill is not running, so there is nothing to fix.", status=409)
        if locked.reported_at is None:
            raise DrillRefused("Report what you found first; the fix comes after the report.", status=409)
        if locked.job is not None and not locked.job.is_finished:
            raise DrillRefused("The drill is still sending its traffic; apply a fix once it has been sent.", status=409)
        deployment = locked.deployment
        if deployment is None:
            raise DrillRefused("The drill's endpoint is gone, so there is nothing to fix.", status=409)
        detail: dict = {"fix": fix}
        try:
            if fix == Fix.RETRAIN:
                active = Job.objects.filter(owner=locked.owner, status__in=Job.ACTIVE).count()
                if settings.JOBS_PER_LEARNER - active < RETRAIN_JOBS:
                    raise DrillRefused(
                        f"Retraining runs {RETRAIN_JOBS} jobs (the retraining, its canary's deploy and the check), "
                        f"and you have {active} queued or running; start the fix when they have finished.",
                        status=429,
                    )
                retrain = monitoring.retrain_start(
                    deployment=deployment, recent_only=True, canary_percent=RETRAIN_CANARY_PERCENT
                )
                detail["retrain_job_id"] = retrain.pk
            elif fix == Fix.ROLLBACK:
                release, _note = serving.deployment_rollback(
                    deployment=deployment, actor=locked.owner, reason=f"Incident drill #{locked.pk}: the fix"
                )
                detail["release"] = release.number
            else:
                column = column.strip()
                if column not in input_names(locked.version):
                    raise DrillRefused("Choose the column whose empty requests the endpoint should refuse.")
                refused = serving.deployment_refuse_nulls(
                    deployment=deployment, columns=[*deployment.refused_null_columns, column]
                )
                detail.update(column=column, refused=refused)
            job = job_create_or_refuse(owner=locked.owner, kind=DRILL_VERIFY, params={"drill_id": locked.pk})
        except DrillRefused:
            raise
        except Refused as refusal:
            raise DrillRefused(refusal.message, status=refusal.status) from None
        detail["drill_job_id"] = locked.job_id
        verification = {**locked.verification, "fix": detail}
        Drill.objects.filter(pk=locked.pk).update(
            fix=fix, fixed_at=timezone.now(), status=Status.VERIFYING, job=job, verification=verification
        )
        shown = {
            Fix.RETRAIN: "retraining on recent labelled requests, then promoting the new version",
            Fix.ROLLBACK: f"rolled back (release {detail.get('release')})",
            Fix.REFUSE: f"the endpoint refuses requests that leave {detail.get('column')} empty",
        }[fix]
        monitoring.event_add(
            deployment, MonitoringEvent.Kind.DRILL, f"Drill #{locked.pk} fix: {shown}; checking it.", job=job
        )
    drill.refresh_from_db()
    return drill


def drill_end(*, drill: Drill) -> Drill:
    """End a drill without a fix: it is scored on what was reported, and another may start."""
    if drill.status == Status.VERIFYING:
        raise DrillRefused("Your fix is being checked; the drill ends with that check.", status=409)
    if drill.status in OVER:
        raise DrillRefused("This drill is already over.", status=409)
    drill = _finish(drill, restored=None, why="The drill was ended without a fix.", ended=True)
    return drill


# --- the check of the fix, and the score -----------------------------------------------------------------------


def _job_done(job_id: int, seconds: float, what: str) -> Job:
    def done() -> Job | None:
        _run_if_queued(job_id)
        job = Job.objects.get(pk=job_id)
        return job if job.is_finished else None

    return _wait(done, seconds, what)


def _retrained_serves(drill: Drill, deployment: Deployment, seconds: float) -> str:
    """Wait for the retraining and its canary, then promote the canary to every request. Returns "" when the
    retrained version serves, else why it does not."""
    deadline = time.monotonic() + seconds
    retrain = _job_done(drill.verification["fix"]["retrain_job_id"], seconds, "The retraining")
    if retrain.status == Job.Status.FAILED:
        return f"The retraining failed: {retrain.error}"
    result = retrain.result or {}
    if not result.get("deployed"):
        return "The retrained version failed the validation gate, so it was never deployed (the timeline says why)."
    release = Release.objects.get(pk=result["release_id"])
    if release.job_id:
        _job_done(release.job_id, max(1.0, deadline - time.monotonic()), "The retrained version's canary deploy")
    release.refresh_from_db()
    if release.status == Release.Status.FAILED:
        return f"The retrained version's canary could not be deployed: {release.error}"
    deployment.refresh_from_db()
    if deployment.strategy == Strategy.CANARY and deployment.candidate_version_id == release.version_id:
        try:
            serving.deployment_promote(
                deployment=deployment, actor=drill.owner,
                reason=f"Incident drill #{drill.pk}: the retrained version takes every request",
            )  # fmt: skip
        except Refused as refusal:
            return f"The retrained version could not be promoted: {refusal.message}"
    deployment.refresh_from_db()
    if deployment.stable_version_id != release.version_id:
        return "Something else was released on the endpoint meanwhile, so the retrained version does not serve."
    return ""


def _answered_logs(run: TrafficRun) -> QuerySet[PredictionLog]:
    return PredictionLog.objects.filter(
        deployment_id=run.deployment_id, role__in=monitoring.ANSWERING_ROLES, status=PredictionLog.Status.OK,
        pk__gte=run.first_log_id, pk__lte=run.last_log_id,
    )  # fmt: skip


def run_figures(run: TrafficRun | None, drill: Drill) -> dict:
    """What a traffic run of the drill measured: answered and refused requests, the service level on the labels
    that have arrived, p95 latency, and the share of answered requests that left the fault's column empty."""
    if run is None:
        return {}
    figures: dict = {"requests": run.requests, "answered": run.answered, "refused": run.refused}
    if run.first_log_id is None or run.last_log_id is None:
        return figures
    version = drill.version
    classification = version.dataset_version.dataset.task == "classification"
    deployment = Deployment.objects.get(pk=run.deployment_id)
    frame, _ = monitoring.window_frame(
        deployment, window=run.requests * 2, inputs=input_names(version), after_id=run.first_log_id,
        before_id=run.last_log_id + 1,
    )  # fmt: skip
    known = frame[frame["__label__"].notna()]
    figures["metric"] = "accuracy" if classification else "R²"
    figures["labelled"] = len(known)
    figures["level"] = _level(known["__prediction__"].to_numpy(), known["__label__"].to_numpy(), classification)
    latencies = list(_answered_logs(run).values_list("latency_ms", flat=True))
    figures["p95_ms"] = float(np.percentile(latencies, 95)) if latencies else None
    column = drill.fault_column
    if column and column in frame.columns and len(frame):
        empty = frame[column].isna()
        figures["empty_answered"] = int(empty.sum())
        figures["empty_share"] = float(empty.mean())
    return figures


def _restored(drill: Drill, baseline: dict, verify: dict) -> tuple[bool, str]:
    """Whether the verification traffic met the baseline's service level, and the sentence that says so."""
    if drill.fault == Fault.LATENCY:
        p95, usual = verify.get("p95_ms"), baseline.get("p95_ms")
        if p95 is None or usual is None:
            return (
                False,
                "No request was answered after the fix (or in the baseline), so latency could not be compared.",
            )
        limit = usual * LATENCY_FACTOR + LATENCY_SLACK_MS
        ok = p95 <= limit
        return ok, (
            f"p95 latency {p95:.1f} ms after the fix against a limit of {limit:.1f} ms "
            f"(the baseline's {usual:.1f} ms × {LATENCY_FACTOR:g} + {LATENCY_SLACK_MS:g} ms)."
        )
    if drill.fault == Fault.NULLS:
        column = drill.fault_column
        answered_empty, refused = verify.get("empty_answered", 0), verify.get("refused", 0)
        ok = answered_empty == 0 and refused > 0 and verify.get("answered", 0) > 0
        return ok, (
            f"After the fix {refused} of {verify['requests']} requests were refused and {answered_empty} that left "
            f"{column} empty were still answered."
        )
    metric = verify.get("metric", "accuracy")
    before, after = baseline.get("level"), verify.get("level")
    if before is None or after is None:
        return False, f"There were no arrived labels to measure the {metric} after the fix against the baseline."
    ok = after >= before - LEVEL_WITHIN
    return ok, (
        f"{metric.capitalize() if metric == 'accuracy' else metric} {after:.1%} after the fix against {before:.1%} "
        f"in the baseline (within {LEVEL_WITHIN * 100:g} points restores it)."
    )


def drill_verify_run(*, job: Job, on_progress: ProgressCallback) -> dict:
    """The check of the fix: wait for it to serve, send traffic with the fault still present, measure."""
    drill = Drill.objects.select_related("version__dataset_version__dataset", "version__run", "deployment").get(
        pk=job.params["drill_id"]
    )
    if drill.status != Status.VERIFYING:
        return {"drill_id": drill.pk}
    deployment = drill.deployment
    if deployment is None:
        raise JobError("The drill's endpoint was deleted, so the fix cannot be checked.")
    plan = _plan(drill)
    rate, requests = float(_setting("DRILL_RATE")), int(_setting("DRILL_VERIFY_REQUESTS"))
    latency = float(plan.get("latency_ms") or 0)
    label_delay = int(_setting("DRILL_LABEL_DELAY"))
    planned = requests * _seconds_per_request(rate, latency) + label_delay + 2
    on_progress(2, "Waiting for the fix to serve")
    problem = ""
    if drill.fix == Fix.RETRAIN:
        problem = _retrained_serves(drill, deployment, _wait_bound(planned))
        if not problem and latency:
            # The slow build is still what ships: a new model version on it answers as slowly. Only returning to
            # the release before the slow one removes it.
            _slow_release(drill, deployment, int(latency))
    if problem:
        return {"drill_id": _finish(drill, restored=False, why=problem).pk}
    row, token = _token(drill, job)
    try:
        run = _drill_traffic(drill, job=job, requests=requests, scenario=plan["scenario"], details=plan["settings"])
        plan.setdefault("runs", {})["verify"] = run.pk
        Drill.objects.filter(pk=drill.pk, status=Status.VERIFYING).update(
            verification={**drill.verification, "plan": plan}
        )
        _send(run, token, on_progress, span=(10, 90), sent=0, total=requests)
    finally:
        serving.api_token_revoke(token=row)
    if label_delay:
        on_progress(92, "Waiting for the true labels to arrive")
        time.sleep(label_delay + 0.5)
    drill.refresh_from_db()
    return {"drill_id": _finish(drill).pk}


def detection_points(seconds: float | None) -> int:
    """40 within 2 minutes of the fault, falling linearly to 10 at 15 minutes, 0 after (and for a report made
    before the fault began, which could only be a guess)."""
    if seconds is None or seconds < 0 or seconds > DETECT_LAST_SECONDS:
        return 0
    if seconds <= DETECT_FULL_SECONDS:
        return DETECT_POINTS
    fallen = (
        (DETECT_POINTS - DETECT_FLOOR) * (seconds - DETECT_FULL_SECONDS) / (DETECT_LAST_SECONDS - DETECT_FULL_SECONDS)
    )
    return round(DETECT_POINTS - fallen)


def score_breakdown(drill: Drill, restored: bool | None) -> dict:
    """The score's three parts, each with its points, what it was out of and why."""
    seconds = None
    if drill.reported_at is not None and drill.fault_at is not None:
        seconds = (drill.reported_at - drill.fault_at).total_seconds()
    if drill.reported_at is None:
        detect_why = "No report was made."
    elif seconds is None or seconds < 0:
        detect_why = "Reported before the fault began."
    else:
        detect_why = f"Reported {_duration(seconds)} after the fault began."
    cause_right = bool(drill.reported_cause) and drill.reported_cause == drill.fault
    column_right = cause_right and drill.fault in COLUMN_FAULTS and drill.reported_column == drill.fault_column
    if not cause_right:
        cause = 0
    elif drill.fault in COLUMN_FAULTS:
        cause = CAUSE_WITH_COLUMN + (COLUMN_POINTS if column_right else 0)
    else:
        cause = CAUSE_POINTS
    detect = detection_points(seconds)
    fix = FIX_POINTS if restored else 0
    return {
        "detect": {"points": detect, "of": DETECT_POINTS, "seconds": seconds, "why": detect_why},
        "cause": {"points": cause, "of": CAUSE_POINTS, "cause_right": cause_right, "column_right": column_right},
        "fix": {"points": fix, "of": FIX_POINTS, "restored": restored},
        "total": detect + cause + fix,
    }


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _finish(drill: Drill, *, restored: bool | None = None, why: str = "", ended: bool = False) -> Drill:
    """Measure what the drill's traffic runs show, decide whether the fix restored the service level (unless
    `why` already says it did not, or could not be checked), score and reveal."""
    drill.refresh_from_db()
    runs = (_plan(drill).get("runs") or {}) if drill.verification else {}
    found = {run.pk: run for run in TrafficRun.objects.filter(pk__in=list(runs.values()))}
    figures = {name: run_figures(found.get(pk), drill) for name, pk in runs.items()}
    if not why:
        if not figures.get("baseline") or not figures.get("verify"):
            restored, why = None, "The traffic needed to compare with the baseline was not sent."
        else:
            restored, why = _restored(drill, figures["baseline"], figures["verify"])
    detail = score_breakdown(drill, restored)
    verification = {**drill.verification, "figures": figures, "restored_why": why}
    now = timezone.now()
    finished = Drill.objects.filter(pk=drill.pk, status__in=ACTIVE).update(
        status=Status.FINISHED, restored=restored, score=detail["total"], score_detail=detail,
        verification=verification, finished_at=now,
    )  # fmt: skip
    drill.refresh_from_db()
    if not finished:
        return drill
    if drill.deployment_id:
        if not ended:
            monitoring.event_add(
                drill.deployment_id, MonitoringEvent.Kind.DRILL,
                f"Drill #{drill.pk} check: the service level {'is' if restored else 'is not'} restored. {why}",
            )  # fmt: skip
        shown = f"{Fault(drill.fault).label.lower()}" + (f" in {drill.fault_column}" if drill.fault_column else "")
        monitoring.event_add(
            drill.deployment_id, MonitoringEvent.Kind.DRILL,
            f"Drill #{drill.pk} scored {drill.score}/100 ({'passed' if drill.passed else 'not passed'}); "
            f"the fault was {shown}.", version=drill.version,
        )  # fmt: skip
    # A passed drill meets stage 9's challenge.
    progress_refresh(user=drill.owner)
    return drill


# --- what the scored drill's page explains -------------------------------------------------------------------


def _level_shown(figures: dict) -> str:
    level = figures.get("level")
    return "unmeasured" if level is None else f"{level:.1%}"


def explanation(drill: Drill) -> list[str]:
    """Two or three sentences on the fault: what its signals were (with what this drill's traffic measured) and
    which fix fits it. Only for a revealed drill."""
    if not revealed(drill):
        return []
    plan = _plan(drill)
    figures = drill.verification.get("figures") or {}
    before, during = figures.get("baseline") or {}, figures.get("fault") or {}
    metric = during.get("metric") or before.get("metric") or "accuracy"
    moved = f"{metric} went from {_level_shown(before)} in the baseline to {_level_shown(during)} under the fault"
    column = drill.fault_column
    if drill.fault == Fault.DATA:
        return [
            f"The inputs moved: {column} arrived shifted by {plan.get('amount', 0):+.1f} standard deviations, "
            f"{_report_on(drill)}, and {moved} once the labels arrived.",
            "Retraining on recent labelled requests fits the model to the data it now receives; there was no earlier "
            "release to roll back to, and refusing a column would only turn good requests away.",
        ]
    if drill.fault == Fault.CONCEPT:
        return [
            f"No input changed, so drift reports on the inputs stayed quiet: what changed was how the inputs relate to "
            f"the label (where {column} is above its median the two most frequent classes swapped).",
            f"Only accuracy on arrived labels showed it: {moved}.",
            "Retraining on recent labelled requests is the fix that fits, because the old relationship no longer "
            "holds; a rollback brings back a model that learned it.",
        ]
    if drill.fault == Fault.LABEL:
        return [
            f"The class balance moved: class {plan.get('class')} went from {plan.get('share_before', 0):.0%} of the "
            f"training data to {MINORITY_SHARE:.0%} of requests, which the prediction distribution and the label "
            "drift test show while each class's inputs look as they did.",
            f"Under the new balance {moved}. Retraining on recent labelled requests learns the new base rate.",
        ]
    if drill.fault == Fault.NULLS:
        share = during.get("empty_share")
        shown = f"{share:.0%} of answered requests" if share is not None else "most requests"
        return [
            f"An upstream column broke: {column} arrived empty in {shown}, and the endpoint answered them anyway with "
            "an imputed value, so the column's missing share jumped on the dashboard while predictions quietly "
            f"degraded ({moved}).",
            "Refusing requests that leave the column empty makes the callers see the failure (400, naming the "
            "column) instead of guesses, until it is fixed upstream; retraining would learn from the broken data.",
        ]
    slow, usual = during.get("p95_ms"), before.get("p95_ms")
    figures_shown = f" (p95 {usual:.1f} ms before, {slow:.1f} ms after)" if slow is not None and usual else ""
    return [
        f"A release went out at the fault with every answer {plan.get('latency_ms')} ms slower{figures_shown}: the "
        "release history shows it arriving when latency rose.",
        f"The same model answered the same kind of requests, so the inputs and predictions did not drift and "
        f"accuracy moved by chance alone ({_level_shown(before)} before, {_level_shown(during)} after).",
        "Rolling back to the release before it restores the latency at once; a retrained model ships on the same "
        "slow build, and refusing a column changes nothing about speed.",
    ]


def _report_on(drill: Drill) -> str:
    """What the learner's own drift reports said of the drifted column, or what one would have."""
    reports = DriftReport.objects.filter(
        deployment_id=drill.deployment_id, status=DriftReport.Status.DONE, created_at__gte=drill.fault_at
    ).order_by("pk")[:20] if drill.deployment_id and drill.fault_at else []  # fmt: skip
    for report in reports:
        for column in report.result.get("columns", []):
            if column.get("column") == drill.fault_column and column.get("drifted"):
                return (
                    f"which your drift report #{report.pk} flagged ({column.get('test')} at {column.get('score'):.3g} "
                    f"against a threshold of {column.get('threshold'):g})"
                )
    return "which a drift report on the requests after the fault would flag on that column"


def _ended_before_report(drill: Drill) -> bool:
    return drill.status in OVER and drill.reported_at is None


def status_line(drill: Drill) -> str:
    """One sentence on where the drill stands, the same whatever its fault."""
    if drill.status == Status.STARTING:
        return "Deploying your model behind the drill's endpoint; the traffic starts once it is live."
    if drill.status == Status.RUNNING:
        if drill.reported_at is None:
            return "Traffic is reaching the endpoint. Investigate, then report what went wrong."
        return "Reported. Now apply a fix; the drill checks it with more traffic."
    if drill.status == Status.VERIFYING:
        return "Checking your fix: traffic with the fault still present is reaching the endpoint."
    if drill.status == Status.FAILED:
        return "The drill could not run to its end, so it has no score."
    if _ended_before_report(drill):
        return "Ended without a report."
    return f"Scored {drill.score}/100: {'passed' if drill.passed else 'not passed'}."
