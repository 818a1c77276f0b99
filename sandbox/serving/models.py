"""Deployments of registered versions behind `/serve/<endpoint>/`, their releases (every traffic change, kept),
the learners' API tokens, and the log of every prediction the endpoint answered."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from sandbox.jobs.models import Job
from sandbox.registry.models import ModelVersion, RegisteredModel


class Strategy(models.TextChoices):
    SINGLE = "single", "Single"
    CANARY = "canary", "Canary"
    BLUE_GREEN = "blue_green", "Blue-green"
    SHADOW = "shadow", "Shadow"


class Deployment(models.Model):
    """A named endpoint and what serves it now: the hot path reads this one row (by `name`) per request.

    `stable_version` answers every request (all but the canary's share, under canary); `candidate_version` is
    the canary, the shadow, or under blue-green the previous version kept warm for a switch back. `revision`
    grows with every traffic change, so each web process knows its loaded models are stale from the row alone.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Deploying"
        LIVE = "live", "Live"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deployments")
    # Unique across the site: the URL `/serve/<name>/` names no learner.
    name = models.SlugField(max_length=63, unique=True)
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.RESTRICT, related_name="deployments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    strategy = models.CharField(max_length=12, choices=Strategy.choices, default=Strategy.SINGLE)
    stable_version = models.ForeignKey(ModelVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    candidate_version = models.ForeignKey(
        ModelVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    canary_percent = models.PositiveSmallIntegerField(default=0)
    current_release = models.ForeignKey("Release", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revision = models.PositiveIntegerField(default=0)
    refused_null_columns = models.JSONField(
        default=list, blank=True,
        help_text="Input columns a request may not leave empty: such a request is refused (400) instead of answered.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["owner", "name"], name="deployment_owner")]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    """One state a deployment was put in, and how: a deploy (through the deploy job), a rollback, a blue-green
    switch or a canary's promotion. Rows are kept; the deployment points at the live one."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        ROLLBACK = "rollback", "Rollback"
        SWITCH = "switch", "Blue-green switch"
        PROMOTE = "promote", "Candidate promoted"

    class Status(models.TextChoices):
        PENDING = "pending", "Deploying"
        LIVE = "live", "Live"
        RETIRED = "retired", "Replaced"
        ROLLED_BACK = "rolled_back", "Rolled back"
        FAILED = "failed", "Failed"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="releases")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="releases")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEPLOY)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    strategy = models.CharField(max_length=12, choices=Strategy.choices)
    version = models.ForeignKey(
        ModelVersion, on_delete=models.RESTRICT, related_name="releases", help_text="The version this release brings."
    )
    stable_version = models.ForeignKey(ModelVersion, on_delete=models.RESTRICT, related_name="+")
    candidate_version = models.ForeignKey(
        ModelVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    canary_percent = models.PositiveSmallIntegerField(default=0)
    alias = models.CharField(max_length=255, blank=True, help_text="The alias deployed, when not a version.")
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The release that was live when this one went live: what a rollback returns to.",
    )  # fmt: skip
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="releases")
    bundle_file = models.CharField(max_length=200, blank=True)
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    smoke = models.JSONField(default=dict, blank=True, help_text="What the smoke test sent and checked.")
    reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    added_latency_ms = models.PositiveIntegerField(
        default=0, help_text="A delay every answer of this release waits: the latency fault of an incident drill."
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    live_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deployment", "-number"]
        constraints = [models.UniqueConstraint(fields=["deployment", "number"], name="release_number_once")]
        indexes = [
            # Challenge checks: a learner's live-at-some-point canaries, and their rollbacks.
            models.Index(fields=["owner", "strategy", "canary_percent"], name="release_canaries"),
            models.Index(fields=["owner", "kind"], name="release_kinds"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment.name} release {self.number}"

    @property
    def stable_percent(self) -> int:
        """The share of requests the stable version answers (all but a canary's)."""
        return 100 - self.canary_percent if self.strategy == Strategy.CANARY else 100

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.PENDING


class ApiToken(models.Model):
    """A learner's bearer token for the endpoints: only its SHA-256 is kept, the token is shown once."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PredictionLog(models.Model):
    """One answer to one request by one version: the stable's or the canary's (returned), or the shadow's
    (logged only; it shares the request's `request_id`). A refused request is not one of these (see RefusedRequest).

    Inputs and predictions keep at most `LOGGED_ROWS` rows of a batch, `row_count` says how many there were.
    `label` and `labelled_at` wait for the ground truth, aligned with the logged rows.
    """

    class Role(models.TextChoices):
        STABLE = "stable", "Stable"
        CANARY = "canary", "Canary"
        SHADOW = "shadow", "Shadow"

    class Status(models.TextChoices):
        OK = "ok", "Answered"
        ERROR = "error", "Error (shadow only)"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="predictions")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    request_id = models.CharField(max_length=32)
    role = models.CharField(max_length=8, choices=Role.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    latency_ms = models.FloatField(help_text="Reading the request, predicting and writing the answer.")
    row_count = models.PositiveIntegerField()
    inputs = models.JSONField(help_text="The first rows of the request, as records.")
    predictions = models.JSONField(default=list)
    error = models.TextField(blank=True)
    label = models.JSONField(null=True, blank=True, help_text="Ground truth for the logged rows, when it arrives.")
    labelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["deployment", "-id"], name="prediction_newest"),
            # The page's split reads a release's newest rows; the challenge counts a release's first 50.
            models.Index(fields=["release", "-id"], name="prediction_release_newest"),
            models.Index(fields=["deployment", "request_id"], name="prediction_request"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.role} v{self.version_id} ({self.status})"


class RefusedRequest(models.Model):
    """A request the endpoint refused after its token was accepted: what was sent and what it was answered (a 4xx
    in MLflow's error body), so the learner can see why, and share it. Only the newest `KEPT` of a deployment stay.

    A request refused before the token was checked (no token, a wrong one, an unknown endpoint) is not kept: it
    could be anyone's, and would let a stranger fill a learner's log.
    """

    KEPT = 50
    BODY_KEPT = 10_000

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="refused_requests")
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=40)
    message = models.TextField()
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField(help_text="The first BODY_KEPT characters of the request body, as sent.")
    body_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["deployment", "-id"], name="refused_request_newest")]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.status} {self.error_code}"
