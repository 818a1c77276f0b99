"""Redis restarting under a running site: the worker keeps going and no accepted job is lost."""

from pathlib import Path

import pytest

from sandbox.models import Job
from tests.integration.faults import RedisServer, Worker, finished, publishing_to, running, slow_sweep, wait_for

pytestmark = pytest.mark.integration
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]


def test_the_worker_survives_redis_restarting_while_a_job_is_in_flight(
    tmp_path: Path, transactional_db: None, learner: object
) -> None:
    redis = RedisServer(NO_PERSISTENCE, tmp_path / "redis.log")
    redis.start()
    # Two pool processes, as `make run` starts: with one job in flight the consumer still waits in
    # BRPOP for a second, which is the state kombu 5.7.0 crashed in when the connection dropped.
    worker = Worker(redis.url, tmp_path / "worker.log", concurrency=2).start()
    restarts, survived = 5, 0
    try:
        with publishing_to(redis.url):
            for _ in range(restarts):
                job = slow_sweep(learner)
                wait_for(lambda job=job: running(job) or not worker.alive, timeout=30, what="the job starting")
                redis.restart(down_for=1)
                # The pool child finishes the job whatever Redis does; a dead main process takes it down too.
                wait_for(lambda job=job: finished(job) or not worker.alive, timeout=60, what="the job ending")
                if not worker.alive or "Unrecoverable error" in worker.output():
                    break
                survived += 1
            print(f"RESULT worker_survived_redis_restarts: {survived} of {restarts}")
            assert "Unrecoverable error" not in worker.output(), worker.output()[-4000:]
            assert worker.alive

            # Consuming again after the last restart: a new job runs to the end.
            job = slow_sweep(learner, runs=1, trees=20)
            wait_for(lambda: finished(job), timeout=45, what="a job sent after the restarts finishing")
            assert job.status == Job.Status.SUCCEEDED, job.error
    finally:
        worker.stop()
        redis.stop()
