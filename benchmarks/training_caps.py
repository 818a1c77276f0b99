"""Every algorithm fitted at the largest configuration the work check accepts, against the soft time limit.

For each case below (an algorithm, its costliest parameters and the largest data shape a learner can
reach), the script raises one knob (trees, iterations, neighbours, or rows when the parameters are
already the costliest) to the largest value `check_work` accepts, then trains that run exactly as a
worker does: `train()` with the split the estimate is worst for, the pipeline saved with joblib, in a
fresh process limited to one BLAS/OpenMP thread like a worker pool child (mlopslab/celery.py). The
data are the slow case: Gaussian features with random labels (every leaf impure, most points support
vectors), or, for logistic regression, separable labels.

A fit is stopped at the soft limit (or --time-cap), so the whole run stays within a few minutes. The
script exits non-zero when any fit reaches the soft limit.

    .venv/bin/python benchmarks/training_caps.py [--soft-limit 120] [--only svm_poly,knn]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`. It also works against older code
(the same `check_work` and `train` signatures): run from a worktree at an older commit to get the
BEFORE figures.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Largest shapes: an upload may have 200,000 rows and 200 columns in 10 MB (so about 5 million cells of
# one-digit values; Gaussian floats at 200,000 × 26 are harder than any upload), the churn generator
# 50,000 rows × 6 columns, the built-in sets at most 1,797 rows × 65 columns.
UPLOAD_ROWS = 200_000
# name: (algorithm, costliest fixed parameters, knob to raise or "rows", columns with the target, labels)
CASES = {
    "logistic_regression": ("logistic_regression", {"C": 1e4}, "max_iter", 26, "separable"),
    "decision_tree": ("decision_tree", {"max_depth": 50, "criterion": "entropy"}, "rows", 26, "random"),
    "random_forest": ("random_forest", {"max_depth": 50}, "n_estimators", 26, "random"),
    "gradient_boosting": ("gradient_boosting", {"max_depth": 10}, "n_estimators", 26, "random"),
    "svm_poly": ("svm", {"kernel": "poly", "C": 1000.0}, "rows", 11, "random"),
    "svm_poly_2_features": ("svm", {"kernel": "poly", "C": 1000.0}, "rows", 3, "random"),
    "svm_linear": ("svm", {"kernel": "linear", "C": 1000.0}, "rows", 21, "random"),
    "svm_rbf": ("svm", {"kernel": "rbf", "C": 1.0}, "rows", 21, "random"),
    "knn": ("knn", {"weights": "distance"}, "n_neighbors", 26, "random"),
    "linear_regression": ("linear_regression", {}, "rows", 201, "regression"),
    "ridge": ("ridge", {}, "rows", 201, "regression"),
    "random_forest_regressor": ("random_forest_regressor", {"max_depth": 50}, "n_estimators", 26, "regression"),
}
# A polynomial kernel with a large C varies most with the data: fitted on several data sets, the slowest counts.
SEEDS = {"svm_poly": 4, "svm_poly_2_features": 4}
# The example: a polynomial SVM with C=1000 on the churn generator's 8,000 rows × 6 columns.
BEFORE_CASE = ("svm", {"kernel": "poly", "C": 1000.0}, 8000, 6)


def frame_for(rows: int, columns: int, labels: str, seed: int = 0) -> object:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, columns - 1))
    if labels == "random":
        target = rng.integers(0, 2, size=rows)
    elif labels == "separable":
        target = (features @ rng.normal(size=columns - 1) > 0).astype(int)
    else:
        target = rng.normal(size=rows)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(columns - 1)])
    frame["target"] = target
    return frame


def accepted(training: object, algorithm: object, params: dict, rows: int, columns: int) -> bool:
    try:
        training.check_work(algorithm, training.check_params(algorithm, params), rows, columns, 0)
    except training.ParamError:
        return False
    return True


def largest(fits: object, low: int, high: int) -> int | None:
    """The largest whole value in [low, high] that fits (fits holds up to a point)."""
    if not fits(low):
        return None
    if fits(high):
        return high
    while high - low > max(1, low // 100):
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def cap(training: object, name: str) -> tuple[dict, int, int] | None:
    """(parameters, rows, columns) of the case at the largest accepted configuration, or None if nothing is."""
    key, fixed, knob, columns, _ = CASES[name]
    algorithm = training.ALGORITHMS[key]
    if knob == "rows":
        rows = largest(lambda r: accepted(training, algorithm, fixed, r, columns), 50, UPLOAD_ROWS)
        return None if rows is None else (fixed, rows, columns)
    param = next(p for p in algorithm.params if p.name == knob)
    found = None
    # The largest rows at which the knob can still reach its default (else the smallest rows tried).
    for rows in (UPLOAD_ROWS, 50_000, 10_000, 2_000):

        def fits(value: int, rows: int = rows) -> bool:
            return accepted(training, algorithm, {**fixed, knob: value}, rows, columns)

        value = largest(fits, int(param.minimum), int(param.maximum))
        if value is not None:
            found = ({**fixed, knob: value}, rows, columns)
            if value >= param.default:
                break
    return found


def fit_once(spec: dict) -> dict:
    """In a fresh process: one thread per library, as a worker pool child; train() and save like a run."""
    import io
    import resource

    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    sys.path.insert(0, str(ROOT))
    import joblib

    from sandbox.ml import training

    algorithm = training.ALGORITHMS[spec["algorithm"]]
    frame = frame_for(spec["rows"], spec["columns"], spec["labels"], spec.get("seed", 0))
    task = "regression" if spec["labels"] == "regression" else "classification"
    started, cpu = time.perf_counter(), time.process_time()
    result = training.train(
        frame, target="target", task=task, algorithm=algorithm, params=training.check_params(algorithm, spec["params"]),
        preparation=training.Preparation(), split=training.Split(**spec["split"]), seed=0,
    )  # fmt: skip
    buffer = io.BytesIO()
    joblib.dump(result.pipeline, buffer)
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "model_mb": len(buffer.getvalue()) / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_capped(spec: dict, time_cap: float) -> dict | None:
    """fit_once in a child process; None when it is still running at time_cap seconds (it is then killed)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, __file__, "--fit", json.dumps(spec)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        output, _ = child.communicate(timeout=time_cap)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return None
    if child.returncode != 0:
        raise RuntimeError(f"the fit of {spec} failed (exit {child.returncode})")
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soft-limit", type=int, help="JOB_SOFT_TIME_LIMIT to check against (default: settings)")
    parser.add_argument("--time-cap", type=float, help="stop a fit after this many seconds (default: the limit)")
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    parser.add_argument("--dry-run", action="store_true", help="print each case's cap without fitting it")
    parser.add_argument("--fit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_once(json.loads(args.fit))))
        return 0
    if args.soft_limit:
        os.environ["JOB_SOFT_TIME_LIMIT"] = str(args.soft_limit)
    sys.path.insert(0, str(HERE))
    from _setup import django_ready, report

    django_ready()
    from django.conf import settings

    from sandbox.ml import training

    limit = settings.JOB_SOFT_TIME_LIMIT
    time_cap = args.time_cap or limit
    print(f"soft time limit: {limit} s; load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    report("soft time limit", limit, "s")

    key, params, rows, columns = BEFORE_CASE
    algorithm = training.ALGORITHMS[key]
    verdict = "accepted" if accepted(training, algorithm, params, rows, columns) else "refused"
    print(f"BEFORE case, SVM kernel=poly C=1000 on {rows:,} rows × {columns} columns: {verdict}")
    report("issue example accepted", 1.0 if verdict == "accepted" else 0.0, "(1 yes, 0 no)")

    names = args.only.split(",") if args.only else list(CASES)
    over = []
    for name in names:
        found = cap(training, name)
        if found is None:
            print(f"{name}: the check accepts no configuration of this case")
            continue
        params, rows, columns = found
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        # The split the estimate is worst for: most rows fitted, or for k-NN most fitted × predicted pairs.
        split = (
            {"test_size": 0.25, "validation_size": 0.25}
            if CASES[name][0] == "knn"
            else {"test_size": 0.1, "validation_size": 0.1}
        )
        spec = {"algorithm": CASES[name][0], "params": params, "rows": rows, "columns": columns,
                "labels": CASES[name][4], "split": split}  # fmt: skip
        print(f"{name}: cap {shown} on {rows:,} rows × {columns} columns", flush=True)
        if args.dry_run:
            continue
        measured = None
        for seed in range(SEEDS.get(name, 1)):
            result = run_capped({**spec, "seed": seed}, time_cap)
            if result is None or measured is None or result["wall"] > measured["wall"]:
                measured = result
            if result is None:
                break
        if measured is None:
            print(f"  still running after {time_cap:.0f} s: stopped")
            report(f"fit at cap {name}", time_cap, "s (stopped, at least)")
            report(f"fit at cap {name} vs soft limit", time_cap / limit, "x (at least)")
            over.append(name)
            continue
        print(f"  cpu {measured['cpu']:.1f} s, model {measured['model_mb']:.1f} MB, "
              f"peak memory {measured['peak_rss_mb']:.0f} MB")  # fmt: skip
        report(f"fit at cap {name}", measured["wall"], "s")
        print(f"RESULT fit at cap {name} vs soft limit: {measured['wall'] / limit:.2f} x")
        if measured["wall"] >= limit:
            over.append(name)
    if over:
        print(f"OVER THE SOFT LIMIT: {', '.join(over)}")
        return 1
    print("every fit at its cap finished within the soft limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
