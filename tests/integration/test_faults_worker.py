"""Workers that die: `make run` starts them again, /healthz tells when none is heard from, their jobs are handed on."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.test import Client

from mlopslab import broker
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.jobs.services import job_create
from sandbox.models import Job, Run
from tests.integration.faults import (
    BIN,
    PROCFILE,
    ROOT,
    RedisServer,
    Worker,
    database_url,
    finished,
    publishing_to,
    running,
    slow_sweep,
    wait_for,
)

pytestmark = pytest.mark.integration
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]


def _is_celery(process: psutil.Process) -> bool:
    # The interpreter and its script come first; the supervisor only has celery among its arguments.
    return any(Path(part).name == "celery" for part in process.cmdline()[:2])


def _celery_main_processes(root: psutil.Process) -> list[psutil.Process]:
    """The worker main processes under `root`: celery processes whose parent is not a celery process."""
    found = []
    for process in root.children(recursive=True):
        try:
            if _is_celery(process) and not _is_celery(process.parent()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


@contextlib.contextmanager
def _honcho_worker(redis_url: str, log: Path) -> Iterator[subprocess.Popen]:
    """The worker exactly as `make run` starts it: honcho running the Procfile's worker line."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url(), "DEBUG": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with log.open("ab") as output:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "--no-colour", "-f", str(PROCFILE), "-d", str(ROOT), "start", "worker"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield honcho
    finally:
        # honcho starts each process in a session of its own, so whatever it leaves is ended one by one.
        if honcho.poll() is None:
            left = psutil.Process(honcho.pid).children(recursive=True)
            honcho.kill()
            honcho.wait(timeout=10)
            for process in left:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()


def test_make_run_starts_a_killed_worker_again_and_healthz_reports_a_silent_one(
    tmp_path: Path, transactional_db: None, learner: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "honcho.log"
    client = Client()
    with (
        RedisServer(NO_PERSISTENCE, tmp_path / "redis.log") as redis,
        _honcho_worker(redis.url, log) as honcho,
        publishing_to(redis.url),
    ):
        wait_for(lambda: log.read_text().count(" ready.") == 1, timeout=60, what="the worker starting")
        wait_for(lambda: client.get("/healthz").json()["workers"] == "ok", timeout=10, what="a heartbeat")

        [main] = _celery_main_processes(psutil.Process(honcho.pid))
        generations = [main]
        main.kill()
        killed = time.monotonic()
        wait_for(lambda: log.read_text().count(" ready.") == 2 or honcho.poll() is not None, timeout=60,
                 what="the worker starting again")  # fmt: skip
        assert honcho.poll() is None, "honcho stopped the site when the worker died:\n" + log.read_text()[-2000:]
        print(f"RESULT killed_worker_back_after: {time.monotonic() - killed:.1f} s")
        generations += _celery_main_processes(psutil.Process(honcho.pid))
        job = slow_sweep(learner, runs=1, trees=20)
        wait_for(lambda: finished(job), timeout=45, what="the restarted worker running a job")
        assert job.status == Job.Status.SUCCEEDED, job.error

        honcho.send_signal(signal.SIGTERM)
        honcho.wait(timeout=20)
        assert not [process.pid for process in generations if process.is_running()], "a worker outlived honcho"
        monkeypatch.setattr(broker, "WORKER_SILENT_AFTER", 1)
        time.sleep(1.5)
        response = client.get("/healthz")
        # A missing worker is reported, not counted against the site's health.
        assert response.status_code == 200
        assert response.json()["workers"].startswith("error: no worker heard from for ")


def test_a_job_whose_worker_main_process_is_killed_is_handed_to_another_worker(
    tmp_path: Path, transactional_db: None, learner: object
) -> None:
    # Short limits, so that the message is handed out again after seconds rather than minutes.
    limits = {"JOB_SOFT_TIME_LIMIT": "5", "JOB_HARD_TIME_LIMIT": "6"}
    with (
        RedisServer(NO_PERSISTENCE, tmp_path / "redis.log") as redis,
        publishing_to(redis.url),
        Worker(redis.url, tmp_path / "first.log", env=limits) as first,
        contextlib.ExitStack() as later,
    ):
        job = job_create(owner=learner, kind=FIRST_MODEL, params={"epochs": 200, "seed": 0})
        wait_for(lambda: running(job), timeout=30, what="the first worker claiming the job", every=0.002)
        first.kill()
        killed = time.monotonic()
        assert running(job), "the job ended before the kill; it is too short"
        later.enter_context(Worker(redis.url, tmp_path / "second.log", env=limits))
        wait_for(lambda: Job.objects.filter(pk=job.pk, attempts=2).exists(), timeout=40,
                 what="the job handed to the second worker", every=0.1)  # fmt: skip
        redelivered = time.monotonic() - killed
        wait_for(lambda: finished(job), timeout=30, what="the handed-on job ending")
        succeeded = time.monotonic() - killed
        print(f"RESULT main_process_kill_to_redelivery: {redelivered:.1f} s (to success: {succeeded:.1f} s)")
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 2), job.error
    assert len(job.result["epochs"]) == 200
    assert redelivered < 30


def test_the_workers_time_limit_stops_a_job_whatever_the_sender_has(
    tmp_path: Path, transactional_db: None, learner: object, settings: object
) -> None:
    assert settings.JOB_SOFT_TIME_LIMIT >= 60, "the sending process needs a large limit for this test to mean anything"
    with (
        RedisServer(NO_PERSISTENCE, tmp_path / "redis.log") as redis,
        Worker(redis.url, tmp_path / "worker.log", env={"JOB_SOFT_TIME_LIMIT": "2"}),
        publishing_to(redis.url),
    ):
        job = slow_sweep(learner, runs=8)
        wait_for(lambda: finished(job), timeout=45, what="the sweep ending")
    reason = "The job took longer than its 2-second limit and was stopped."
    assert (job.status, job.error) == (Job.Status.FAILED, reason), "the sender's limit applied, not the worker's"
    runs = list(Run.objects.filter(job=job).order_by("pk"))
    stopped = [run for run in runs if run.status == Run.Status.FAILED]
    print(f"RESULT runs_stopped_by_the_workers_limit: {len(stopped)} of {len(runs)}")
    assert stopped, "the limit stopped none of the sweep's runs"
    assert all(run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED) for run in runs), "a run was left unfinished"
    assert {run.error for run in stopped} == {reason}


def test_a_worker_writes_its_heartbeat_to_the_redis_it_consumes_from(
    celery_worker: object, redis_url: str, tmp_path: Path
) -> None:
    """The suite's worker thread keeps beating into its own Redis while the process publishes elsewhere.

    Pointing app.conf.broker_url at another Redis (as the fault tests do) once made the in-process
    worker's heartbeat land there, so /healthz on that Redis reported a worker nobody had started.
    """
    import redis as redis_client

    from mlopslab.celery import Heartbeat

    consumer = celery_worker.consumer
    [step] = [step for step in consumer.steps if isinstance(step, Heartbeat)]
    with RedisServer(NO_PERSISTENCE, tmp_path / "redis.log") as other, publishing_to(other.url):
        before = broker.worker_last_seen(redis_url)
        step.beat(consumer)
        assert broker.worker_last_seen(other.url) is None
        assert broker.worker_problem(other.url) == "no worker has been heard from"
    assert broker.worker_last_seen(redis_url) > (before or 0)
    assert redis_client.Redis.from_url(redis_url).zscore(broker.HEARTBEAT_KEY, consumer.hostname) is not None
