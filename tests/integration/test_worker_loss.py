"""A worker process killed in the middle of a job: the broker hands the job to another, never leaving it stuck."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.db import connection

from sandbox.jobs.runners import FIRST_MODEL
from sandbox.jobs.tasks import run_job
from sandbox.models import Job

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# Its own queue, so that the in-thread worker of the other integration tests cannot take the job.
QUEUE = "worker-loss-test"


def _database_url() -> str:
    options = connection.settings_dict
    if options["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{options['NAME']}"
    return f"postgres://{options['USER']}:{options['PASSWORD']}@{options['HOST']}:{options['PORT']}/{options['NAME']}"


@pytest.fixture
def prefork_worker(redis_url: str, transactional_db: None) -> Iterator[subprocess.Popen]:
    """A real `celery worker` with one prefork child, on the test database and the test Redis."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": _database_url(), "DEBUG": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "mlopslab", "worker", "--pool", "prefork",
         "--concurrency", "1", "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "--queues", QUEUE],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield worker
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


def _children(worker: subprocess.Popen, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(worker.pid).children()
        if children:
            return children
        time.sleep(0.05)
    pytest.fail("the worker started no pool process")


def test_a_job_whose_worker_process_is_killed_runs_again_and_succeeds(
    prefork_worker: subprocess.Popen, learner: object
) -> None:
    _children(prefork_worker)
    job = Job.objects.create(owner=learner, kind=FIRST_MODEL, params={"epochs": 200, "seed": 0})
    run_job.apply_async(args=[job.pk], queue=QUEUE)
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=job.pk).status == Job.Status.QUEUED:
        assert time.monotonic() < deadline, "no worker claimed the job"
        time.sleep(0.002)
    victims = _children(prefork_worker)
    for child in victims:
        child.send_signal(signal.SIGKILL)
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING, "the job ended before the kill; it is too short"

    while not Job.objects.get(pk=job.pk).is_finished:
        assert time.monotonic() < deadline, f"job stuck {Job.objects.get(pk=job.pk).status}"
        time.sleep(0.05)
    job.refresh_from_db()
    assert job.attempts == 2, "the killed attempt should have been redelivered and run again"
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert len(job.result["epochs"]) == 200
