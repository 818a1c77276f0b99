import logging
import uuid
from datetime import timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.broker import redis_problem
from sandbox.models import Job, Run

logger = logging.getLogger(__name__)

# A job whose worker died is tried once more (the broker redelivers it); a
# second death ends it.
MAX_ATTEMPTS = 2
QUEUE_UNREACHABLE = "The job queue is not reachable right now, so nothing was queued. Please try again in a minute."


class JobRefused(Exception):
    """The job was not created; the message says why, for the learner."""


def job_create(*, owner: User, kind: str, params: dict | None = None) -> Job:
    """Create a queued job for `owner` and send it to a worker once committed.

    Refuses, creating nothing, when Redis does not answer or when the learner
    already has their quota of queued and running jobs. If the message still
    cannot be sent after the commit, the job is returned already failed.
    """
    from sandbox.runners import RUNNERS  # runners use services; imported late to avoid a cycle

    if kind not in RUNNERS:
        raise JobRefused(f"There is no kind of job called {kind!r}.")
    if redis_problem(settings.CELERY_BROKER_URL) is not None:
        raise JobRefused(QUEUE_UNREACHABLE)
    with transaction.atomic():
        # Locking the owner's row serialises concurrent submissions by one
        # learner, so two requests cannot both squeeze under the cap.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        active = Job.objects.filter(owner=owner, status__in=Job.ACTIVE).count()
        if active >= settings.JOBS_PER_LEARNER:
            raise JobRefused(
                f"You already have {active} jobs queued or running, the most one learner may have. "
                "Start this one when one of them has finished."
            )
        job = Job.objects.create(owner=owner, kind=kind, params=params or {}, celery_task_id=str(uuid.uuid4()))
        transaction.on_commit(partial(_enqueue, job))
    job.refresh_from_db()
    return job


def _enqueue(job: Job) -> None:
    from sandbox.tasks import run_job

    try:
        run_job.apply_async(args=[job.pk], task_id=job.celery_task_id)
    except Exception:
        logger.exception("could not send job %s to the broker", job.pk)
        job_fail(job_id=job.pk, error=QUEUE_UNREACHABLE)


def job_report_progress(*, job_id: int, percent: int, message: str) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        progress=max(0, min(100, percent)), message=message[:200]
    )


def _job_finish(
    job_id: int,
    status: str,
    *,
    error: str = "",
    result: dict | None = None,
    from_statuses: tuple[str, ...] = (Job.Status.RUNNING,),
) -> bool:
    fields = {"status": status, "error": error, "finished_at": timezone.now()}
    if status == Job.Status.SUCCEEDED:
        fields.update(progress=100, message="Finished", result=result or {})
    ended = bool(Job.objects.filter(pk=job_id, status__in=from_statuses).update(**fields))
    if ended and status == Job.Status.FAILED:
        # Runs the job never reached end with it, so none is left queued for ever.
        Run.objects.filter(job_id=job_id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
            status=Run.Status.FAILED, error=error, finished_at=fields["finished_at"]
        )
    return ended


def job_fail(*, job_id: int, error: str) -> bool:
    """Fail a job that has not ended yet; False when it already had."""
    return _job_finish(job_id, Job.Status.FAILED, error=error, from_statuses=Job.ACTIVE)


def job_execute(*, job_id: int, redelivered: bool = False) -> None:
    """Claim the job and run it, leaving the row succeeded or failed.

    The conditional update is the claim: a message delivered twice finds the
    row no longer queued and does nothing. A redelivered message (its worker
    died) may take over a running row, up to MAX_ATTEMPTS.
    """
    claimable = [Job.Status.QUEUED, Job.Status.RUNNING] if redelivered else [Job.Status.QUEUED]
    claimed = Job.objects.filter(pk=job_id, status__in=claimable, attempts__lt=MAX_ATTEMPTS).update(
        status=Job.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        progress=0,
        message="Starting",
    )
    if not claimed:
        if redelivered:
            _job_finish(job_id, Job.Status.FAILED, error="The worker stopped twice while running this job.")
        return

    from sandbox.runners import RUNNERS, JobError

    job = Job.objects.get(pk=job_id)

    def on_progress(percent: int, message: str) -> None:
        job_report_progress(job_id=job_id, percent=percent, message=message)

    try:
        result = RUNNERS[job.kind](job, on_progress)
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        _job_finish(
            job_id, Job.Status.FAILED, error=f"The job took longer than its {limit}-second limit and was stopped."
        )
    except JobError as exc:
        _job_finish(job_id, Job.Status.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        _job_finish(job_id, Job.Status.FAILED, error=f"The job failed unexpectedly: {type(exc).__name__}: {exc}")
    else:
        if _job_finish(job_id, Job.Status.SUCCEEDED, result=result):
            # A finished job may meet a stage's challenge.
            progress_refresh(user=job.owner)


def jobs_fail_abandoned(*, now: timezone.datetime | None = None) -> int:
    """Fail jobs that no worker will finish, so that they do not hold a learner's quota.

    A running job past its hard time limit lost its worker; a queued job an hour
    old lost its message (an embedded Redis keeps nothing across a restart).
    """
    now = now or timezone.now()
    run_deadline = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    failed = Job.objects.filter(status=Job.Status.RUNNING, started_at__lt=run_deadline).update(
        status=Job.Status.FAILED, error="The worker running this job stopped responding.", finished_at=now
    )
    failed += Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - timedelta(hours=1)).update(
        status=Job.Status.FAILED, error="No worker picked this job up within an hour.", finished_at=now
    )
    return failed
