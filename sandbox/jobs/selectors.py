from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from sandbox.jobs.models import Job


def job_get_owned(*, owner: User, job_id: int) -> Job:
    """The learner's own job, or 404: another learner's id looks like no job at all."""
    return get_object_or_404(Job, pk=job_id, owner=owner)


def jobs_recent(*, owner: User, limit: int = 10) -> QuerySet[Job]:
    return Job.objects.filter(owner=owner)[:limit]
