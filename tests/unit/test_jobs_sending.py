"""How jobs go to the broker: with no time limits of the sender's, and again when their message may be lost."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from mlopslab.celery import app
from sandbox.jobs import services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The headers of every task message Celery builds, caught before it would reach a broker."""
    messages: list[dict] = []

    def capture(producer: object, name: str, message: object, **options: object) -> None:
        messages.append({"task": name, **message.headers})

    monkeypatch.setattr(app.amqp, "send_task_message", capture)
    monkeypatch.setattr("sandbox.jobs.services.redis_problem", lambda url, **kwargs: None)
    return messages


def _queued(owner: object, **fields: object) -> Job:
    return Job.objects.create(
        owner=owner, kind=FIRST_MODEL, params={"epochs": 2}, celery_task_id=str(uuid4()), **fields
    )


def test_a_job_is_sent_without_the_senders_time_limits(
    learner: object, sent: list[dict], settings: object, django_capture_on_commit_callbacks: object
) -> None:
    assert (app.tasks[services.RUN_JOB_TASK].soft_time_limit, app.tasks[services.RUN_JOB_TASK].time_limit) == (
        settings.CELERY_TASK_SOFT_TIME_LIMIT,
        settings.CELERY_TASK_TIME_LIMIT,
    ), "the task carries this process's limits, which Celery would stamp into the message"
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(owner=learner, kind=FIRST_MODEL)
    [message] = sent
    assert message["task"] == services.RUN_JOB_TASK
    assert message["id"] == job.celery_task_id
    # No limits in the message, so the worker applies its own settings.
    assert list(message["timelimit"]) == [None, None]
    job.refresh_from_db()
    assert job.sent_at is not None


def test_queued_jobs_whose_message_is_a_minute_old_are_sent_again(learner: object, sent: list[dict]) -> None:
    now = timezone.now()
    stale = _queued(learner, sent_at=now - timedelta(seconds=61))
    unsent_before_upgrade = _queued(learner)
    Job.objects.filter(pk=unsent_before_upgrade.pk).update(created_at=now - timedelta(minutes=5))
    _queued(learner, sent_at=now - timedelta(seconds=30))
    _queued(learner, status=Job.Status.RUNNING, sent_at=now - timedelta(minutes=5))
    _queued(learner, status=Job.Status.SUCCEEDED, sent_at=now - timedelta(minutes=5))

    assert services.jobs_send_again(now=now) == 2
    assert sorted(message["id"] for message in sent) == sorted(
        [stale.celery_task_id, unsent_before_upgrade.celery_task_id]
    )
    assert all(list(message["timelimit"]) == [None, None] for message in sent)
    stale.refresh_from_db()
    assert stale.sent_at > now - timedelta(seconds=5), "sent again, it waits another minute before the next"
    assert services.jobs_send_again(now=timezone.now()) == 0


def test_a_broker_that_does_not_answer_leaves_the_jobs_for_the_next_round(
    learner: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app.tasks[services.RUN_JOB_TASK], "apply_async", unreachable)
    old = timezone.now() - timedelta(minutes=2)
    jobs = [_queued(learner, sent_at=old) for _ in range(2)]
    assert services.jobs_send_again() == 0
    for job in jobs:
        job.refresh_from_db()
        assert (job.status, job.sent_at) == (Job.Status.QUEUED, old)


def test_a_duplicate_message_runs_the_job_once(learner: object) -> None:
    job = _queued(learner)
    services.job_execute(job_id=job.pk)
    first = Job.objects.get(pk=job.pk)
    services.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.finished_at) == (Job.Status.SUCCEEDED, 1, first.finished_at)


def test_the_abandoned_job_sweep_waits_for_a_redelivery_first(learner: object, settings: object) -> None:
    """A running job is failed only once its message would have been handed to another worker and picked up."""
    now = timezone.now()
    redelivery_due = now - timedelta(seconds=settings.JOB_REDELIVER_AFTER + 30)
    long_gone = now - timedelta(seconds=settings.JOB_REDELIVER_AFTER + 61)
    waiting = _queued(learner, status=Job.Status.RUNNING, started_at=redelivery_due)
    gone = _queued(learner, status=Job.Status.RUNNING, started_at=long_gone)

    assert settings.JOB_REDELIVER_AFTER > settings.CELERY_TASK_TIME_LIMIT
    assert services.jobs_fail_abandoned(now=now) == 1
    waiting.refresh_from_db()
    gone.refresh_from_db()
    assert waiting.status == Job.Status.RUNNING
    assert (gone.status, gone.error) == (Job.Status.FAILED, "The worker running this job stopped responding.")
