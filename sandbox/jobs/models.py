from django.conf import settings
from django.db import models

from sandbox.jobs.registry import job_kind


class Job(models.Model):
    """One piece of background work, and the truth about how it is going.

    The Celery result backend is never consulted: the worker moves this row
    through its statuses, and the pages poll the row.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=40, help_text="A kind registered in sandbox.jobs.registry.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=36, blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When its message last went to the broker; a queued job is sent again."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "created_at"]),
            # The first-job challenge asks for one finished job of a kind, whatever the learner's history.
            models.Index(fields=["owner", "kind", "status"], name="job_owner_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label} #{self.pk} ({self.status})"

    @property
    def kind_label(self) -> str:
        registered = job_kind(self.kind)
        return registered.label if registered else self.kind

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
