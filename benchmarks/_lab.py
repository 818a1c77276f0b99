"""What benchmarks/lifecycle.py and benchmarks/serving.py share: a private Redis, a real Celery worker, the peer
MLflow environment, and the Lab's half of the lifecycle through its own services.

Redis is a redis-server of the project's venv on a free port of 127.0.0.1, started for the one benchmark, so that
no other worker on the machine (a test session's, another benchmark's) can take its jobs, and its worker cannot
take theirs. The worker runs with DEBUG off, as in production.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRET_KEY = "benchmark-secret-key-that-is-long-enough-for-django-checks"
MODEL_NAME = "breast-cancer"
ALIAS = "challenger"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Child processes started in their own sessions, each stopped (with its children) on exit, newest first."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], **options: object) -> subprocess.Popen:
        process = subprocess.Popen(command, start_new_session=True, **options)
        self.started.append(process)
        return process

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def private_redis(processes: Processes) -> str:
    """Start a redis-server of the project's venv on a free port and return its URL once it answers."""
    sys.path.insert(0, str(ROOT))
    from mlopslab.broker import redis_problem

    server = shutil.which("redis-server", path=str(Path(sys.executable).parent))
    if server is None:
        raise SystemExit("redis-server is missing from the venv's bin/; run scripts/bootstrap.sh --dev.")
    port = free_port()
    process = processes.start(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while redis_problem(url, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"redis-server on port {port} did not start")
        time.sleep(0.05)
    return url


def lab_env(data_dir: Path, redis_url: str) -> dict[str, str]:
    """The environment of the Lab's own processes (worker, web): production settings over the benchmark's data."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }


def worker_log() -> Path:
    """Where the worker writes: beside the benchmark's database."""
    return Path(os.environ["DATA_DIR"]) / "worker.log"


def start_worker(processes: Processes, env: dict[str, str], *, concurrency: int = 1) -> subprocess.Popen:
    """A real `celery worker` (prefork) of the Lab over the benchmark's Redis and database (see worker_log)."""
    return processes.start(
        [str(Path(sys.executable).parent / "celery"), "-A", "mlopslab", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=worker_log().open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def peer_python() -> Path:
    """The MLflow peer environment's python, built by scripts/peer_env.py when missing or pinned differently."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from peer_env import PeerEnvError
    from peer_env import peer_python as build

    try:
        return build("mlflow")
    except (PeerEnvError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"The MLflow peer environment cannot be built: {exc}") from None


def lab_config() -> object:
    """StandardScaler + LogisticRegression, no imputation: the pipeline MLflow's side fits too."""
    from sandbox.ml import training
    from sandbox.tracking.services import RunConfig

    return RunConfig("logistic_regression", {}, training.Preparation(impute="none"), training.Split(), 42)


def learner_with_breast_cancer(username: str) -> tuple[object, object, object]:
    """A learner, their copy of the built-in breast_cancer set and an experiment on it.

    Returns (learner, the dataset version, experiment).
    """
    from django.contrib.auth.models import User

    from sandbox.datasets.services import dataset_create_builtin
    from sandbox.tracking.services import experiment_create

    learner = User.objects.create_user(username=username)
    dataset = dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = experiment_create(owner=learner, name="lifecycle", dataset=dataset)
    return learner, dataset.versions.get(), experiment


def run_wait(run: object, *, timeout: float = 120) -> object:
    """The run's row once the worker has finished it; stops the benchmark when the run failed or never ended."""
    from sandbox.tracking.models import Run

    deadline = time.monotonic() + timeout
    while True:
        status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
        if status in (Run.Status.SUCCEEDED, Run.Status.FAILED):
            break
        if time.monotonic() > deadline:
            raise SystemExit(
                f"run {run.pk} was still {status} after {timeout:.0f} s: is the worker up? See {worker_log()}"
            )
        time.sleep(0.002)
    finished = Run.objects.select_related("owner", "dataset_version__dataset").get(pk=run.pk)
    if status != Run.Status.SUCCEEDED:
        raise SystemExit(f"run {run.pk} failed: {finished.error} (the worker's log: {worker_log()})")
    return finished


def lab_lifecycle(learner: object, version: object, experiment: object) -> tuple[object, dict[str, float]]:
    """Queue a training run, wait for the worker to finish it, register it and point the alias at it: the same
    calls the pages make, in the order a learner makes them. Returns the ModelVersion and the seconds each part
    took (`train`: queued to succeeded, `register`, `alias`)."""
    from sandbox.registry.services import model_alias_set, model_version_register
    from sandbox.tracking.services import run_create

    started = time.perf_counter()
    run = run_wait(run_create(experiment=experiment, version=version, config=lab_config()))
    trained = time.perf_counter()
    model_version = model_version_register(run=run, model_name=MODEL_NAME)
    registered = time.perf_counter()
    model_alias_set(registered_model=model_version.registered_model, alias=ALIAS, version=model_version, actor=learner)
    aliased = time.perf_counter()
    return model_version, {"train": trained - started, "register": registered - trained, "alias": aliased - registered}


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000
