"""Train, register and alias a model: the Lab's whole path against MLflow's, side by side (issue 11).

Target: the Lab's median <= 0.5 s.

One lifecycle in the Lab is what a learner's clicks do, through the real services and a real Celery worker
(prefork, one child, DEBUG off) over a private Redis and a throw-away SQLite database: `run_create` queues a
run of StandardScaler + LogisticRegression on breast_cancer, the script polls the run's row until the worker
has trained, evaluated and saved it, then `model_version_register` makes it the next version of a model and
`model_alias_set` points `challenger` at it. `champion` moves only through the validation gate, a separate
job, so the plain alias is the step that matches MLflow's.

One lifecycle in MLflow is what its user writes, with its defaults, in the peer environment
(scripts/peer_env.py's `mlflow`), over a SQLite tracking and registry store in a temporary
folder: start a run, fit the same pipeline on the same split, log params and validation metrics,
`mlflow.sklearn.log_model`, `mlflow.register_model`, `set_registered_model_alias`
(benchmarks/_mlflow_lifecycle.py). Both sides stay warm between lifecycles (the Lab's worker, MLflow's one
process), both are warmed first, and the two take turns, one lifecycle each, so load from other work on the
machine slows both alike. Each side's median is printed, and how many times faster the Lab is.

    .venv/bin/python benchmarks/lifecycle.py [--runs 20] [--warmup 2]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _lab import (
    HERE,
    Processes,
    lab_env,
    lab_lifecycle,
    learner_with_breast_cancer,
    median_ms,
    peer_python,
    private_redis,
    start_worker,
)


class MlflowLifecycle:
    """The peer process of benchmarks/_mlflow_lifecycle.py: one lifecycle per call, timed inside it."""

    def __init__(self, processes: Processes, store: Path) -> None:
        self.log = store / "mlflow.log"
        self.process = processes.start(
            [str(peer_python()), str(HERE / "_mlflow_lifecycle.py"), str(store)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True,
        )  # fmt: skip

    def __call__(self) -> float:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith("SECONDS "):
                return float(line.split()[1])
        tail = "\n".join(self.log.read_text().splitlines()[-20:])
        raise SystemExit(f"MLflow's lifecycle process ended (exit {self.process.wait()}):\n{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed lifecycles on each side (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed lifecycles on each side first (default 2)")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    with Processes() as processes:
        redis_url = private_redis(processes)
        os.environ["REDIS_URL"] = redis_url
        from _setup import django_ready

        data_dir = django_ready()
        start_worker(processes, lab_env(data_dir, redis_url))
        mlflow = MlflowLifecycle(processes, Path(tempfile.mkdtemp(prefix="mlopslab-bench-mlflow-")))
        measure(args.runs, args.warmup, mlflow)


def measure(count: int, warmup: int, mlflow: MlflowLifecycle) -> None:
    from _setup import report

    learner, version, experiment = learner_with_breast_cancer("bench-lifecycle")
    started = time.perf_counter()
    for _ in range(warmup):
        lab_lifecycle(learner, version, experiment)
        mlflow()
    print(f"warm-up: {warmup} lifecycle(s) on each side in {time.perf_counter() - started:.1f} s")
    lab, parts, peer = [], {"train": [], "register": [], "alias": []}, []
    for _ in range(count):
        model_version, spent = lab_lifecycle(learner, version, experiment)
        lab.append(sum(spent.values()))
        for part, seconds in spent.items():
            parts[part].append(seconds)
        peer.append(mlflow())
    assert model_version.number == warmup + count, model_version.number
    lab_median, peer_median = median_ms(lab), median_ms(peer)
    verdict = "ok" if lab_median <= 500 else "SLOWER THAN TARGET"
    print(f"lifecycles: {count} on each side, taking turns (breast_cancer, StandardScaler + LogisticRegression)")
    print(
        f"Lab    train + register + alias, median {lab_median:8.1f} ms (min {min(lab) * 1000:.1f}, "
        f"max {max(lab) * 1000:.1f}); target 500 ms: {verdict}"
    )
    print("       of which, medians: " + ", ".join(f"{part} {median_ms(s):.1f} ms" for part, s in parts.items()))
    print(
        f"MLflow train + log_model + register + alias, median {peer_median:8.1f} ms "
        f"(min {min(peer) * 1000:.1f}, max {max(peer) * 1000:.1f})"
    )
    report("lab lifecycle median", lab_median, "ms")
    for part, seconds in parts.items():
        report(f"lab lifecycle {part} median", median_ms(seconds), "ms")
    report("mlflow lifecycle median", peer_median, "ms")
    report("lifecycle vs mlflow", peer_median / lab_median, "x")


if __name__ == "__main__":
    main()
