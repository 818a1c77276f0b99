import time
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from sandbox.jobs import registry, services
from sandbox.jobs.registry import JobError, JobKind
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Job

pytestmark = pytest.mark.django_db


def _queued(owner: object, **fields: object) -> Job:
    return Job.objects.create(owner=owner, kind=FIRST_MODEL, params={"epochs": 3}, **fields)


def test_a_created_job_runs_to_success_with_its_result(
    learner: object, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(owner=learner, kind=FIRST_MODEL, params={"epochs": 4, "seed": 1})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress == 100
    assert len(job.result["epochs"]) == 4
    assert job.attempts == 1
    assert job.started_at <= job.finished_at


def test_a_learner_cannot_queue_more_than_the_cap(learner: object, celery_eager: None, settings: object) -> None:
    settings.JOBS_PER_LEARNER = 3
    for status in (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.QUEUED):
        _queued(learner, status=status)
    _queued(learner, status=Job.Status.SUCCEEDED)
    with pytest.raises(services.JobRefused, match="already have 3 jobs queued or running"):
        services.job_create(owner=learner, kind=FIRST_MODEL)
    assert Job.objects.count() == 4


def test_the_cap_is_per_learner(learner: object, other_learner: object, celery_eager: None) -> None:
    for _ in range(3):
        _queued(other_learner)
    job = services.job_create(owner=learner, kind=FIRST_MODEL)
    assert job.owner == learner


def test_it_refuses_quickly_and_creates_nothing_when_redis_is_down(learner: object, closed_redis_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(services.JobRefused, match="job queue is not reachable"):
        services.job_create(owner=learner, kind=FIRST_MODEL)
    assert time.monotonic() - started < 2
    assert not Job.objects.exists()


def test_it_refuses_an_unknown_kind(learner: object, celery_eager: None) -> None:
    with pytest.raises(services.JobRefused, match="no kind of job called 'mine_bitcoin'"):
        services.job_create(owner=learner, kind="mine_bitcoin")


def test_a_message_delivered_twice_runs_the_job_once(learner: object) -> None:
    job = _queued(learner)
    services.job_execute(job_id=job.pk)
    finished_at = Job.objects.get(pk=job.pk).finished_at
    services.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 1
    assert job.finished_at == finished_at


def test_a_redelivered_message_takes_over_a_job_whose_worker_died(learner: object) -> None:
    job = _queued(learner, status=Job.Status.RUNNING, attempts=1, started_at=timezone.now())
    services.job_execute(job_id=job.pk, redelivered=True)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 2


def test_a_second_worker_death_fails_the_job(learner: object) -> None:
    job = _queued(learner, status=Job.Status.RUNNING, attempts=services.MAX_ATTEMPTS, started_at=timezone.now())
    services.job_execute(job_id=job.pk, redelivered=True)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "The worker stopped twice while running this job."


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (JobError("Column 'age' is empty."), "Column 'age' is empty."),
        (SoftTimeLimitExceeded(), "The job took longer than its 120-second limit and was stopped."),
        (KeyError("epochs"), "The job failed unexpectedly: KeyError: 'epochs'"),
    ],
)
def test_a_failing_runner_ends_the_job_failed_with_a_readable_error(
    learner: object, monkeypatch: pytest.MonkeyPatch, settings: object, raised: Exception, error: str
) -> None:
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 120

    def explode(job: Job, on_progress: object) -> dict:
        on_progress(30, "Halfway")
        raise raised

    monkeypatch.setitem(registry._kinds, FIRST_MODEL, JobKind(key=FIRST_MODEL, label="Explodes", run=explode))
    job = _queued(learner)
    services.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error, job.progress) == (Job.Status.FAILED, error, 30)
    assert job.finished_at is not None


def test_progress_is_kept_within_0_and_100(learner: object) -> None:
    job = _queued(learner, status=Job.Status.RUNNING)
    services.job_report_progress(job_id=job.pk, percent=140, message="x" * 300)
    job.refresh_from_db()
    assert job.progress == 100
    assert len(job.message) == 200


def test_abandoned_jobs_are_failed_and_free_the_quota(learner: object, settings: object) -> None:
    now = timezone.now()
    stale_running = _queued(learner, status=Job.Status.RUNNING, started_at=now - timedelta(hours=1))
    fresh_running = _queued(learner, status=Job.Status.RUNNING, started_at=now - timedelta(seconds=5))
    stale_queued = _queued(learner)
    Job.objects.filter(pk=stale_queued.pk).update(created_at=now - timedelta(hours=2))

    assert services.jobs_fail_abandoned(now=now) == 2
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {
        stale_running.pk: Job.Status.FAILED,
        fresh_running.pk: Job.Status.RUNNING,
        stale_queued.pk: Job.Status.FAILED,
    }


def test_job_fail_leaves_a_finished_job_alone(learner: object) -> None:
    job = _queued(learner, status=Job.Status.SUCCEEDED)
    assert services.job_fail(job_id=job.pk, error="late") is False
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_a_hard_time_limit_reported_by_celery_fails_the_job(learner: object) -> None:
    from celery.exceptions import TimeLimitExceeded
    from celery.signals import task_failure

    from sandbox.jobs.tasks import run_job

    job = _queued(learner, status=Job.Status.RUNNING)
    task_failure.send(sender=run_job, task_id="t", exception=TimeLimitExceeded(150), args=[job.pk], kwargs={})
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "The job took longer than its hard time limit and was stopped."
