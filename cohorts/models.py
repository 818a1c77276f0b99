from django.conf import settings
from django.db import models
from django.utils import timezone

STUCK_DAYS_DEFAULT = 7


class Cohort(models.Model):
    """A class an instructor teaches: learners join it with its invite code."""

    name = models.CharField(max_length=120)
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cohorts_taught")
    invite_code = models.CharField(max_length=16, unique=True)
    invite_expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the invite never expires.")
    stuck_after_days = models.PositiveSmallIntegerField(
        default=STUCK_DAYS_DEFAULT, help_text="A learner with no progress for this many days is listed as stuck."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def invite_open(self, now: object = None) -> bool:
        return self.invite_expires_at is None or (now or timezone.now()) < self.invite_expires_at


class CohortMembership(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cohort_memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["cohort", "learner"], name="cohort_membership_once")]

    def __str__(self) -> str:
        return f"{self.learner} in {self.cohort}"


class StageDeadline(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="deadlines")
    node = models.ForeignKey("lessons.Node", on_delete=models.CASCADE, related_name="cohort_deadlines")
    due = models.DateField()

    class Meta:
        ordering = ["node__order"]
        constraints = [models.UniqueConstraint(fields=["cohort", "node"], name="stage_deadline_once")]

    def __str__(self) -> str:
        return f"{self.node} due {self.due} in {self.cohort}"
