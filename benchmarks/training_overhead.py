"""Overhead of a training run on a warm worker (issue target: median <= 150 ms).

For each run: the time from `run_create` (submission) until the run's row says
"succeeded", minus the median in-process time of the same work (load the data
version, fit and evaluate the pipeline, save it) measured in this script. The
worker is a real `celery worker` (prefork, one child) over Redis: the one at
REDIS_URL on database 14 when it answers, else the embedded redis-server.

Between runs, the same worker also answers a task that does nothing (`delay().get()`),
so the overhead is read against Celery's own dispatch floor measured in the same run:
what is above the floor is the job path's own cost (the job row, the Redis check,
progress writes, the polling).

    .venv/bin/python benchmarks/training_overhead.py [--runs 20]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import io
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


def _redis_url() -> tuple[str, subprocess.Popen | None]:
    sys.path.insert(0, str(ROOT))
    from mlopslab.broker import redis_problem

    configured = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_problem(configured, timeout=0.5) is None:
        return configured.rsplit("/", 1)[0] + "/14", None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = shutil.which("redis-server", path=str(Path(sys.executable).parent))
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    while redis_problem(url, timeout=0.2):
        time.sleep(0.05)
    return url, process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url, redis_process = _redis_url()
    os.environ["REDIS_URL"] = url
    from _setup import django_ready

    data_dir = django_ready()
    # The no-op task lives beside this script; the worker imports it by name from this folder.
    python_path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "mlopslab", "worker", "--pool", "prefork",
         "--concurrency", "1", "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "-I", "_celery_noop"],
        cwd=ROOT, env={**os.environ, "DATA_DIR": str(data_dir), "REDIS_URL": url, "PYTHONPATH": python_path},
    )  # fmt: skip
    try:
        measure(args.runs)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        if redis_process:
            redis_process.terminate()


def measure(count: int) -> None:
    import joblib
    from _celery_noop import noop
    from _setup import report
    from django.contrib.auth.models import User

    from sandbox.datasets.selectors import version_frame
    from sandbox.datasets.services import dataset_create_builtin
    from sandbox.ml import training
    from sandbox.tracking.models import Run
    from sandbox.tracking.services import RunConfig, experiment_create, run_create

    learner = User.objects.create_user(username="bench")
    dataset = dataset_create_builtin(owner=learner, name="breast_cancer")
    version = dataset.versions.get()
    experiment = experiment_create(owner=learner, name="bench", dataset=dataset)
    config = RunConfig("logistic_regression", {}, training.Preparation(), training.Split(), 42)

    def submit_and_wait() -> float:
        started = time.perf_counter()
        run = run_create(experiment=experiment, version=version, config=config)
        while True:
            status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
            if status in (Run.Status.SUCCEEDED, Run.Status.FAILED):
                break
            time.sleep(0.002)
        assert status == Run.Status.SUCCEEDED, Run.objects.get(pk=run.pk).error
        return time.perf_counter() - started

    def noop_round_trip() -> float:
        started = time.perf_counter()
        noop.delay().get(timeout=60)
        return time.perf_counter() - started

    def in_process() -> float:
        started = time.perf_counter()
        frame = version_frame(version)
        result = training.train(
            frame, target=dataset.target, task=dataset.task, algorithm=training.ALGORITHMS[config.algorithm],
            params=training.check_params(training.ALGORITHMS[config.algorithm], {}), preparation=config.preparation,
            split=config.split, seed=config.seed,
        )  # fmt: skip
        joblib.dump(result.pipeline, io.BytesIO())
        return time.perf_counter() - started

    for _ in range(3):  # warm the worker's child: imports, first connections
        submit_and_wait()
        noop_round_trip()
    totals, noops = [], []
    for _ in range(count):
        # Interleaved, so that both figures see the same load on a shared machine.
        totals.append(submit_and_wait())
        noops.append(noop_round_trip())
    local = statistics.median(in_process() for _ in range(count))
    shares = profile_split(in_process, count)
    overheads = sorted((total - local) * 1000 for total in totals)
    median = statistics.median(overheads)
    p90 = overheads[int(len(overheads) * 0.9) - 1]
    floor = statistics.median(noops) * 1000
    print(f"runs: {count} (logistic regression on breast cancer, warm prefork worker, one child)")
    print(f"submission to succeeded, median: {statistics.median(totals) * 1000:.1f} ms")
    print(f"in-process load + fit + evaluate + save, median: {local * 1000:.1f} ms")
    print(f"overhead median: {median:.1f} ms, p90: {p90:.1f} ms, target 150 ms: "
          f"{'ok' if median <= 150 else 'SLOWER THAN TARGET'}")  # fmt: skip
    print(f"celery no-op delay().get() on the same worker, median of {count}: {floor:.1f} ms")
    report("submission to succeeded median", statistics.median(totals) * 1000, "ms")
    report("in-process training median", local * 1000, "ms")
    report("training overhead median", median, "ms")
    report("training overhead p90", p90, "ms")
    report("celery no-op round trip median", floor, "ms")
    report("training overhead above celery floor", median - floor, "ms")
    for part, share in shares.items():
        report(f"toy job {part} share", share * 100, "%")


def profile_split(job: object, count: int) -> dict[str, float]:
    """Where a toy job's in-process time goes: the pipeline's fit, the evaluation after it, and the rest.

    fit: the final Pipeline.fit inside train(); metrics: what train() does after that fit returns
    (predictions, probabilities, metrics, confusion matrix, ROC, importances); rest: loading the data
    version, splitting, building and checking, and saving the fitted pipeline. Timed by wrapping
    train() and Pipeline.fit, so the split reads the same for any version of train().
    """
    from sklearn.pipeline import Pipeline

    from sandbox.ml import training

    spent = {"fit": 0.0, "metrics": 0.0, "total": 0.0}
    real_train, real_fit = training.train, Pipeline.fit
    depth, fitted_at = [0], [0.0]

    def timed_fit(self: Pipeline, *args: object, **kwargs: object) -> Pipeline:
        depth[0] += 1
        started = time.perf_counter()
        try:
            return real_fit(self, *args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                fitted_at[0] = time.perf_counter()
                spent["fit"] += fitted_at[0] - started

    def timed_train(*args: object, **kwargs: object) -> object:
        result = real_train(*args, **kwargs)
        spent["metrics"] += time.perf_counter() - fitted_at[0]
        return result

    training.train, Pipeline.fit = timed_train, timed_fit
    try:
        for _ in range(count):
            started = time.perf_counter()
            job()
            spent["total"] += time.perf_counter() - started
    finally:
        training.train, Pipeline.fit = real_train, real_fit
    total = spent.pop("total")
    spent["rest"] = total - spent["fit"] - spent["metrics"]
    shown = ", ".join(f"{part} {seconds / count * 1000:.1f} ms" for part, seconds in spent.items())
    print(f"toy job over {count} runs, per job: {shown}")
    return {part: seconds / total for part, seconds in spent.items()}


if __name__ == "__main__":
    main()
