"""Each prefork pool child of a worker runs BLAS and OpenMP on one thread, so two busy children share two cores."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.faults import database_url, wait_for
from tests.integration.thread_probe import thread_probe

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# Its own queue, so that the in-thread worker of the other integration tests cannot take the probe.
QUEUE = "worker-threads-test"


@pytest.fixture
def prefork_worker(redis_url: str, transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`celery worker` as `make run` starts it (prefork, two children), importing the probe task."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url(), "DEBUG": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # A caller's own limits must not be what the test sees.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env.pop(name, None)
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "mlopslab", "worker", "--pool", "prefork",
             "--concurrency", "2", "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--queues", QUEUE,
             "-I", "tests.integration.thread_probe", "-n", "threads@%h"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: " ready." in log.read_text() or worker.poll() is not None, timeout=60, what="the worker")
        assert worker.poll() is None, log.read_text()[-3000:]
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def test_every_pool_child_runs_blas_and_openmp_on_one_thread(prefork_worker: subprocess.Popen) -> None:
    # Two probes that each hold their child for a moment, sent together: each child takes one.
    sent = [thread_probe.apply_async(kwargs={"hold": 1.0}, queue=QUEUE) for _ in range(2)]
    reports = [result.get(timeout=60) for result in sent]
    assert {r["parent"] for r in reports} == {prefork_worker.pid}, "the probes ran outside the worker's pool"
    assert len({r["pid"] for r in reports}) == 2, "both children should have answered"
    for report in reports:
        apis = {pool["api"] for pool in report["pools"]}
        assert {"openblas", "openmp"} <= apis, report
        assert [pool for pool in report["pools"] if pool["threads"] != 1] == [], report
        assert report["OMP_NUM_THREADS"] == "1"
