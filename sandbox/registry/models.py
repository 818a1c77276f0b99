"""The model registry, as MLflow's has it: named models, numbered versions, aliases, and the audit of every
alias move, with the validation gate that guards `champion`."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sandbox.datasets.models import DatasetVersion
from sandbox.jobs.models import Job
from sandbox.tracking.models import Run


class RegisteredModel(models.Model):
    """A learner's named model: the versions registered under its name, their aliases, and the alias audit."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registered_models")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, help_text="Markdown, as written.")
    description_html = models.TextField(blank=True, editable=False, help_text="Rendered and sanitized.")
    tags = models.JSONField(default=dict, blank=True)
    # The golden sample: the same rows, with their labels, for every version's gate (drawn once, seeded).
    golden_dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    golden_rows = models.JSONField(default=list, blank=True, help_text="Row positions in that version's file.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="registered_model_name_once")]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One registered version of a model: a succeeded run's fitted pipeline, pinned by its SHA-256."""

    class Status(models.TextChoices):
        # MLflow's ModelVersionStatus; registration here is synchronous, so a stored version is READY.
        PENDING_REGISTRATION = "PENDING_REGISTRATION", "Pending registration"
        FAILED_REGISTRATION = "FAILED_REGISTRATION", "Failed registration"
        READY = "READY", "Ready"

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    run = models.ForeignKey(Run, on_delete=models.RESTRICT, related_name="model_versions")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.RESTRICT, related_name="model_versions")
    code_version = models.CharField(max_length=100, blank=True)
    model_file = models.CharField(max_length=200, help_text="Storage path the app wrote the pipeline to.")
    model_sha256 = models.CharField(max_length=64)
    signature = models.JSONField(default=list, help_text="Input columns as MLflow's ColSpec: name and type.")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.READY)
    description = models.TextField(blank=True)
    description_html = models.TextField(blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registered_model", "-number"]
        constraints = [models.UniqueConstraint(fields=["registered_model", "number"], name="model_version_once")]
        indexes = [models.Index(fields=["owner", "run"], name="model_version_run")]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.number}"


class ModelAlias(models.Model):
    """A named pointer (`champion`, `challenger`, …) at one version of a model; a version may carry several."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["registered_model", "alias"], name="model_alias_once")]

    def __str__(self) -> str:
        return f"{self.registered_model.name}@{self.alias} → v{self.version.number}"


class Validation(models.Model):
    """One run of the validation gate for promoting a version to an alias: its settings, checklist and outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Could not run"

    class Outcome(models.TextChoices):
        WAITING = "", "Waiting for the gate"
        MOVED = "moved", "Alias moved"
        BLOCKED = "blocked", "Promotion blocked"
        OVERRIDDEN = "overridden", "Promoted by override"
        SUPERSEDED = "superseded", "Alias changed since; not promoted"

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="validations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="validations")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="validations")
    alias = models.CharField(max_length=255)
    champion = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The version the alias pointed at when the gate was queued.",
    )  # fmt: skip
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="validations")
    tolerance = models.FloatField()
    latency_limit_ms = models.FloatField()
    reason = models.TextField(blank=True, help_text="Why the learner promotes this version.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    checks = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.WAITING, blank=True)
    override_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One gate at a time per alias: a second promotion, or a manual move, waits for this one.
            models.UniqueConstraint(
                fields=["registered_model", "alias"], condition=Q(status="pending"), name="validation_pending_once"
            )
        ]
        indexes = [models.Index(fields=["owner", "status", "outcome"], name="validation_outcomes")]

    def __str__(self) -> str:
        return f"Gate for {self.version} → {self.alias} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.PENDING


class AliasEvent(models.Model):
    """One alias move, kept for good: who, when, which alias, from which version to which, why, and the gate.

    Rows are only ever added; the timeline and the "which version on <date>?" answer are read from them.
    """

    class Action(models.TextChoices):
        SET = "set", "Set"
        MOVE = "move", "Moved"
        DELETE = "delete", "Deleted"
        ROLLBACK = "rollback", "Rolled back"

    class Gate(models.TextChoices):
        NONE = "", "No gate"
        PASSED = "passed", "Gate passed"
        OVERRIDDEN = "overridden", "Gate failed, overridden"

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alias_events")
    alias = models.CharField(max_length=255)
    action = models.CharField(max_length=10, choices=Action.choices)
    from_version = models.ForeignKey(ModelVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    to_version = models.ForeignKey(ModelVersion, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alias_events")
    reason = models.TextField(blank=True)
    gate = models.CharField(max_length=12, choices=Gate.choices, default=Gate.NONE, blank=True)
    validation = models.ForeignKey(Validation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The as-of answer: the newest event of one alias at or before a moment, one index seek.
            models.Index(fields=["registered_model", "alias", "-at", "-id"], name="alias_event_as_of"),
            models.Index(fields=["registered_model", "-at", "-id"], name="alias_event_timeline"),
        ]

    def __str__(self) -> str:
        return f"{self.alias} {self.action} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("An alias event is never changed; the timeline only grows.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("An alias event is never deleted; the timeline only grows.")
