from django.conf import settings
from django.db import models

from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.jobs.models import Job


class Experiment(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=100)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="experiments")
    compared_run_ids = models.JSONField(default=list, blank=True, help_text="The runs last compared side by side.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One training run, tracked as MLflow tracks one: params, metrics, tags, artifacts and lineage."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="runs")
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    algorithm = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    preparation = models.JSONField(default=dict)
    split = models.JSONField(default=dict)
    seed = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True, help_text="Sealed until the learner reveals them.")
    test_revealed_at = models.DateTimeField(null=True, blank=True)
    charts = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    environment = models.JSONField(default=dict, blank=True, help_text="Python and library versions, code version.")
    model_file = models.CharField(max_length=200, blank=True, help_text="Storage path of the fitted pipeline.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["experiment", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.algorithm})"

    def save(self, *args: object, **kwargs: object) -> None:
        # Logged params are immutable, as in MLflow: a run's configuration is its identity.
        if self.pk is not None:
            stored = Run.objects.filter(pk=self.pk).values("params", "algorithm", "seed").first()
            if stored and (stored["params"], stored["algorithm"], stored["seed"]) != (
                self.params,
                self.algorithm,
                self.seed,
            ):
                raise ValueError("A run's parameters cannot change once logged; start a new run instead.")
        super().save(*args, **kwargs)
