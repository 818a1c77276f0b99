"""Use cases of background jobs: create and enqueue, claim and run, report progress, finish."""

import logging
import uuid
from datetime import timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.broker import redis_problem
from mlopslab.celery import app
from mlopslab.refusals import Refused
from mlopslab.storage import StorageUnavailable
from sandbox.jobs.models import Job
from sandbox.jobs.registry import JobError, job_kind

logger = logging.getLogger(__name__)

# The task is looked up by name, so that this module never imports the task
# module that imports it. The name is the one it had before the sandbox was
# split into capability packages, so messages queued before an upgrade still run.
RUN_JOB_TASK = "sandbox.tasks.run_job"
# A job whose worker died is tried once more (the broker redelivers it); a
# second death ends it.
MAX_ATTEMPTS = 2
# A queued job whose message may have been lost is sent again this long after the last send.
SEND_AGAIN_AFTER = timedelta(seconds=60)
QUEUE_UNREACHABLE = "The job queue is not reachable right now, so nothing was queued. Please try again in a minute."


class JobRefused(Refused):
    """The job was not created; the message says why, for the learner."""


def job_create(*, owner: User, kind: str, params: dict | None = None) -> Job:
    """Create a queued job for `owner` and send it to a worker once committed.

    Refuses, creating nothing, an unknown kind (400), a full quota (429) and a
    broker that does not answer (503). If the message still cannot be sent
    after the commit, the job is returned already failed.
    """
    if job_kind(kind) is None:
        raise JobRefused(f"There is no kind of job called {kind!r}.", status=400)
    if redis_problem(settings.CELERY_BROKER_URL) is not None:
        raise JobRefused(QUEUE_UNREACHABLE, status=503)
    with transaction.atomic():
        # Locking the owner's row serialises concurrent submissions by one
        # learner, so two requests cannot both squeeze under the cap.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        active = Job.objects.filter(owner=owner, status__in=Job.ACTIVE).count()
        if active >= settings.JOBS_PER_LEARNER:
            raise JobRefused(
                f"You already have {active} jobs queued or running, the most one learner may have. "
                "Start this one when one of them has finished.",
                status=429,
            )
        job = Job.objects.create(owner=owner, kind=kind, params=params or {}, celery_task_id=str(uuid.uuid4()))
        transaction.on_commit(partial(_enqueue, job))
    job.refresh_from_db()
    return job


def job_create_or_refuse(*, owner: User, kind: str, params: dict | None = None) -> Job:
    """As `job_create`, but a job whose message could not be sent is refused (503) instead of returned failed."""
    job = job_create(owner=owner, kind=kind, params=params)
    if job.status == Job.Status.FAILED:
        raise JobRefused(job.error, status=503)
    return job


def _send(job_id: int, task_id: str) -> None:
    # Sent without time limits: Celery would otherwise stamp the sender's JOB_SOFT_TIME_LIMIT and
    # JOB_HARD_TIME_LIMIT into the message, and they would override the worker's own.
    app.tasks[RUN_JOB_TASK].apply_async(args=[job_id], task_id=task_id, time_limit=None, soft_time_limit=None)
    Job.objects.filter(pk=job_id).update(sent_at=timezone.now())


def _enqueue(job: Job) -> None:
    try:
        _send(job.pk, job.celery_task_id)
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
    """The one way a job ends, by whatever route: the row, and what the job was working on."""
    fields = {"status": status, "error": error, "finished_at": timezone.now()}
    if status == Job.Status.SUCCEEDED:
        fields.update(progress=100, message="Finished", result=result or {})
    ended = bool(Job.objects.filter(pk=job_id, status__in=from_statuses).update(**fields))
    if ended and status == Job.Status.FAILED:
        kind = job_kind(Job.objects.values_list("kind", flat=True).get(pk=job_id))
        if kind is not None and kind.on_fail is not None:
            # What the job never reached ends with it, so nothing is left queued for ever.
            kind.on_fail(job_id, error)
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
            job_fail(job_id=job_id, error="The worker stopped twice while running this job.")
        return

    job = Job.objects.get(pk=job_id)
    kind = job_kind(job.kind)
    if kind is None:
        job_fail(job_id=job_id, error=f"This worker does not know how to run a {job.kind!r} job.")
        return

    def on_progress(percent: int, message: str) -> None:
        job_report_progress(job_id=job_id, percent=percent, message=message)

    try:
        result = kind.run(job, on_progress)
    except SoftTimeLimitExceeded:
        # The limit this worker applied: jobs are sent without limits of their own (see _send).
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        job_fail(job_id=job_id, error=f"The job took longer than its {limit}-second limit and was stopped.")
    except (JobError, StorageUnavailable) as exc:
        # StorageUnavailable: the object store did not answer; its message names the file, and nothing was saved.
        job_fail(job_id=job_id, error=str(exc))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        job_fail(job_id=job_id, error=f"The job failed unexpectedly: {type(exc).__name__}: {exc}")
    else:
        if _job_finish(job_id, Job.Status.SUCCEEDED, result=result):
            # A finished job may meet a stage's challenge.
            progress_refresh(user=job.owner)


def jobs_send_again(*, now: timezone.datetime | None = None) -> int:
    """Send queued jobs whose last message went out SEND_AGAIN_AFTER ago again; return how many were sent.

    A message can be lost before any worker takes it: a Redis that keeps nothing loses its whole
    queue when it restarts. A job whose message is only waiting behind others gets a second one,
    which is harmless: the claim in `job_execute` lets one message run the job and the other find
    it no longer queued. Beat asks every 30 s (CELERY_BEAT_SCHEDULE); a broker that does not answer
    leaves the rest for the next round.
    """
    now = now or timezone.now()
    due = now - SEND_AGAIN_AFTER
    stale = Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(sent_at__lt=due) | Q(sent_at__isnull=True, created_at__lt=due)
    )
    sent = 0
    for job_id, task_id in stale.values_list("pk", "celery_task_id"):
        try:
            _send(job_id, task_id)
        except Exception as exc:
            logger.warning("could not send job %s again: %s", job_id, exc)
            break
        sent += 1
    return sent


def jobs_fail_abandoned(*, now: timezone.datetime | None = None) -> int:
    """Fail jobs that no worker will finish, so that they do not hold a learner's quota.

    A running job whose message would have been handed to another worker by now (JOB_REDELIVER_AFTER,
    from the same figures as the worker's hard limit), and then some, lost its worker for good; a
    queued job an hour old found no worker although it was sent again every minute. Each ends
    through the same path as any failed job, with what it was working on.
    """
    now = now or timezone.now()
    run_deadline = now - timedelta(seconds=settings.JOB_REDELIVER_AFTER + 60)
    abandoned = [
        (job_id, "The worker running this job stopped responding.")
        for job_id in Job.objects.filter(status=Job.Status.RUNNING, started_at__lt=run_deadline).values_list(
            "pk", flat=True
        )
    ] + [
        (job_id, "No worker picked this job up within an hour.")
        for job_id in Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - timedelta(hours=1)).values_list(
            "pk", flat=True
        )
    ]
    return sum(job_fail(job_id=job_id, error=error) for job_id, error in abandoned)
