from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.jobs.models import Job
from sandbox.jobs.runners import FIRST_MODEL


@register("foundations.first-job")
def first_job(user: User) -> ChallengeStatus:
    succeeded = Job.objects.filter(owner=user, kind=FIRST_MODEL, status=Job.Status.SUCCEEDED).exists()
    return ChallengeStatus(
        title="Train your first model on a background worker",
        steps=[("Run “Train a first model” in the sandbox until it succeeds", succeeded)],
    )
