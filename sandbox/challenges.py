"""Checks over a learner's own sandbox state, registered for the challenge keys of the map."""

from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.models import Job


@register("foundations.first-job")
def first_job(user: User) -> ChallengeStatus:
    succeeded = Job.objects.filter(owner=user, kind=Job.Kind.FIRST_MODEL, status=Job.Status.SUCCEEDED).exists()
    return ChallengeStatus(
        title="Train your first model on a background worker",
        steps=[("Run “Train a first model” in the sandbox until it succeeds", succeeded)],
    )
