"""Monitoring a deployment: the traffic the simulator sent it, the drift reports run on what it answered, the
policy that runs them (and retrains on drift), the timeline of what happened, and incident drills."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from sandbox.datasets.models import DatasetVersion
from sandbox.jobs.models import Job
from sandbox.registry.models import ModelVersion
from sandbox.serving.models import Deployment


class Scenario(models.TextChoices):
    NONE = "none", "No drift"
    DATA = "data", "Data drift"
    CONCEPT = "concept", "Concept drift"
    LABEL = "label", "Label drift"


class Onset(models.TextChoices):
    SUDDEN = "sudden", "Sudden"
    GRADUAL = "gradual", "Gradual"


class TrafficRun(models.Model):
    """One run of the traffic simulator: `requests` requests sent through the endpoint's serving path, drawn from
    the deployment's training data and changed by the scenario from request `drift_from` on (at once, or over
    `ramp` requests when gradual). `sent` only grows, one batch of requests at a time, so a run stopped mid-way
    says how far it got and its log holds exactly those requests.

    `settings` holds the scenario's details: for data drift `{"shift": {column: standard deviations},
    "scale": {column: factor}, "categories": {column: {value: share}}}`, for concept drift `{"feature": column}`
    (the label swaps between the two most frequent classes where that feature is above its median), for label drift
    `{"balance": {class: share}}`. `hidden` runs (mysteries and drills) do not show their scenario to the learner.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="traffic_runs")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="traffic_runs")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    scenario = models.CharField(max_length=10, choices=Scenario.choices, default=Scenario.NONE)
    onset = models.CharField(max_length=10, choices=Onset.choices, default=Onset.SUDDEN)
    drift_from = models.PositiveIntegerField(default=0, help_text="The request the drift starts at (0 = the first).")
    ramp = models.PositiveIntegerField(default=0, help_text="Gradual drift reaches its full size over this many.")
    settings = models.JSONField(default=dict, blank=True)
    requests = models.PositiveIntegerField()
    rate = models.FloatField(help_text="Requests per second the simulator aims at.")
    label_delay = models.PositiveIntegerField(default=0, help_text="Seconds before a request's true label arrives.")
    seed = models.PositiveIntegerField(default=0)
    hidden = models.BooleanField(default=False)
    sent = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    first_log_id = models.BigIntegerField(null=True, blank=True, help_text="The log row of its first request.")
    drift_log_id = models.BigIntegerField(null=True, blank=True, help_text="The log row of its first drifted request.")
    last_log_id = models.BigIntegerField(null=True, blank=True, help_text="The log row of its last request so far.")
    guess = models.CharField(max_length=255, blank=True, help_text="A mystery's answer: the feature the learner named.")
    guessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "hidden"], name="traffic_owner_hidden")]

    def __str__(self) -> str:
        return f"traffic #{self.pk} to {self.deployment_id} ({self.scenario})"


class DriftReport(models.Model):
    """One run of the drift detector: the reference (the data version the serving model was trained on) against a
    current window (the newest logged requests, or an uploaded batch). `result` is
    `sandbox.monitoring.drift.DatasetDrift` as stored (every column's test, score, threshold, verdict, reason and
    the two distributions); prediction and label drift are kept beside it."""

    class Source(models.TextChoices):
        WINDOW = "window", "Logged requests"
        UPLOAD = "upload", "Uploaded batch"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Run by hand"
        POLICY = "policy", "Drift policy"

    class Status(models.TextChoices):
        PENDING = "pending", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drift_reports")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, null=True, blank=True, related_name="drift_reports"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reference = models.ForeignKey(DatasetVersion, on_delete=models.RESTRICT, related_name="drift_reports")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WINDOW)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    window = models.PositiveIntegerField(default=0, help_text="How many of the newest logged requests it read.")
    upload_file = models.CharField(max_length=200, blank=True)
    tests = models.JSONField(
        default=dict, blank=True, help_text="Tests the learner chose: {column: [test, threshold]}."
    )
    drift_share = models.FloatField(default=0.5)
    reference_rows = models.PositiveIntegerField(default=0)
    current_rows = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    prediction_drift = models.JSONField(default=dict, blank=True)
    label_drift = models.JSONField(default=dict, blank=True)
    dataset_drift = models.BooleanField(null=True, blank=True)
    share_drifted = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["deployment", "-created_at"], name="drift_report_newest"),
            models.Index(fields=["owner", "status"], name="drift_report_owner"),
        ]

    def __str__(self) -> str:
        return f"drift report #{self.pk}"


class DriftPolicy(models.Model):
    """When a deployment's drift is checked (every `every_minutes` minutes by Celery beat, or after every
    `every_requests` requests, whichever comes first) and what happens on drift: an alert always, and a
    retraining job when `retrain` is on, whose new version goes through the validation gate and out as a canary
    at `canary_percent`; with `promote` on, the canary takes over once it answered `promote_after` labelled
    requests at least as accurately as the stable version. `retrain_job` is the one retraining in flight: a
    policy never queues a second while it runs."""

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="drift_policy")
    enabled = models.BooleanField(default=True)
    every_minutes = models.PositiveIntegerField(null=True, blank=True)
    every_requests = models.PositiveIntegerField(null=True, blank=True)
    window = models.PositiveIntegerField(default=500, help_text="How many of the newest requests a check reads.")
    drift_share = models.FloatField(default=0.5)
    tests = models.JSONField(default=dict, blank=True)
    retrain = models.BooleanField(default=False)
    algorithm = models.CharField(max_length=40, blank=True, help_text="Retrain with this algorithm; blank: the same.")
    recent_only = models.BooleanField(
        default=False, help_text="Retrain on recent labelled requests alone, not the training data plus them."
    )
    canary_percent = models.PositiveSmallIntegerField(default=20)
    promote = models.BooleanField(default=False)
    promote_after = models.PositiveIntegerField(default=50)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_checked_log_id = models.BigIntegerField(default=0, help_text="The newest logged request the last check saw.")
    retrain_job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cooldown_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"drift policy of {self.deployment_id}"


class MonitoringEvent(models.Model):
    """One entry of a deployment's monitoring timeline: traffic, a check, an alert, a retraining and its gate,
    the canary and its promotion, a drill's steps. The loop from drift to promotion reads as these rows."""

    class Kind(models.TextChoices):
        TRAFFIC = "traffic", "Traffic"
        CHECK = "check", "Drift check"
        ALERT = "alert", "Drift alert"
        RETRAIN = "retrain", "Retraining"
        GATE = "gate", "Validation gate"
        CANARY = "canary", "Canary"
        PROMOTE = "promote", "Promotion"
        ROLLBACK = "rollback", "Rollback"
        DRILL = "drill", "Drill"
        SKIPPED = "skipped", "Skipped"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="monitoring_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.CharField(max_length=300)
    report = models.ForeignKey(DriftReport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["deployment", "-created_at"], name="monitoring_event_newest")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class Drill(models.Model):
    """An incident drill: the learner's model behind an endpoint of its own, hidden traffic with one undisclosed
    fault from `fault_at` on, the learner's report (when, what cause, which column) and fix, and the score."""

    class Fault(models.TextChoices):
        DATA = "data_drift", "A drifted feature"
        CONCEPT = "concept", "A concept change"
        LABEL = "label_balance", "A label-balance change"
        NULLS = "broken_column", "A broken upstream column (nulls)"
        LATENCY = "latency", "A latency regression"

    class Fix(models.TextChoices):
        RETRAIN = "retrain", "Retrain on recent labelled data"
        ROLLBACK = "rollback", "Roll back the last release"
        REFUSE = "refuse_column", "Refuse requests with the broken column"

    class Status(models.TextChoices):
        STARTING = "starting", "Starting"
        RUNNING = "running", "Running"
        VERIFYING = "verifying", "Checking the fix"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drills")
    deployment = models.ForeignKey(Deployment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.RESTRICT, related_name="+")
    fault = models.CharField(max_length=16, choices=Fault.choices)
    fault_column = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTING)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    fault_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    reported_cause = models.CharField(max_length=16, choices=Fault.choices, blank=True)
    reported_column = models.CharField(max_length=255, blank=True)
    fix = models.CharField(max_length=16, choices=Fix.choices, blank=True)
    fixed_at = models.DateTimeField(null=True, blank=True)
    verification = models.JSONField(default=dict, blank=True)
    restored = models.BooleanField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    score_detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["owner", "status"], name="drill_owner_status")]

    def __str__(self) -> str:
        return f"drill #{self.pk}"

    PASS_SCORE = 60

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= self.PASS_SCORE
