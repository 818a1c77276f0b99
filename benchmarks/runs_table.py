"""Server time of an experiment's runs table as the experiment grows: 1,000, 10,000 and 50,000 runs.

Issue 10, goal 2: the 50,000-run page within 2x of the 1,000-run page. The page lists the first
100 runs of the filtered and sorted experiment ("Show more" adds a hundred at a time, up to the
cap). Each size is its own experiment of one learner, built with bulk_create, all in one
throw-away SQLite database (or DATABASE_URL). Requests go through Django's full stack with the
test client, in this process. Three cases per size: newest first, sorted by val_f1, and filtered
and sorted, the sizes taking turns request by request. Then one request for `?shown=50000` on the
largest experiment, timed, and once more under tracemalloc for its peak memory.

    .venv/bin/python benchmarks/runs_table.py [--sizes 1000,10000,50000] [--requests 30]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`; each case's ratio of the
largest size to the smallest is its own line, `RESULT runs table <case> 50000 vs 1000: <r> x`.
"""

import argparse
import random
import statistics
import time
import tracemalloc

from _setup import django_ready, report

CASES = {
    "newest first": {},
    "sorted by val_f1": {"sort": "-metrics.val_f1"},
    "filtered and sorted": {
        "filter": "params.max_depth >= 5 and metrics.val_f1 > 0.2",
        "sort": "params.n_estimators",
    },
}
METRICS = ("val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc", "val_log_loss")


def build(learner: object, version: object, name: str, size: int) -> object:
    """An experiment of `size` finished random-forest runs with varied params, six metrics and a tag."""
    from sandbox.tracking import models as tracking_models
    from sandbox.tracking.models import Run
    from sandbox.tracking.services import experiment_create

    experiment = experiment_create(owner=learner, name=name, dataset=version.dataset)
    rng = random.Random(size)
    for start in range(0, size, 5000):
        Run.objects.bulk_create(
            Run(
                experiment=experiment,
                owner=learner,
                dataset_version=version,
                name=f"forest-{n}",
                algorithm="random_forest",
                seed=n,
                status=Run.Status.SUCCEEDED,
                params={
                    "n_estimators": rng.choice([50, 100, 200]),
                    "max_depth": rng.randint(2, 20),
                    "min_samples_leaf": rng.randint(1, 10),
                },
                metrics={metric: rng.random() for metric in METRICS},
                tags={"sweep": str(n // 12)},
            )
            for n in range(start, min(size, start + 5000))
        )
    # bulk_create skips Run.save(): derive what save() derives (the runs' value index), where the code has it.
    reindex = getattr(tracking_models, "runs_reindex", None)
    if reindex is not None:
        reindex(experiment=experiment)
    return experiment


def measure(client: object, urls: dict[int, str], query: dict, count: int) -> dict[int, tuple[list[float], int]]:
    """Timings and query count of one case at each size. The sizes take turns, request by request, so that
    a machine busy with other work slows them alike and their ratio holds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    queries = {}
    for size, url in urls.items():
        for _ in range(3):
            client.get(url, query)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, query).status_code == 200
        # Counted now: the log is emptied when the next request starts.
        queries[size] = len(captured.captured_queries)
    timings: dict[int, list[float]] = {size: [] for size in urls}
    for _ in range(count):
        for size, url in urls.items():
            started = time.perf_counter()
            response = client.get(url, query)
            timings[size].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return {size: (sorted(timings[size]), queries[size]) for size in urls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="run counts, comma-separated, smallest first")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case and size")
    parser.add_argument("--no-shown", action="store_true", help="skip the ?shown=50000 request")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    django_ready()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from sandbox.datasets.services import dataset_create_builtin

    learner = User.objects.create_user(username="bench")
    version = dataset_create_builtin(owner=learner, name="breast_cancer").versions.get()
    started = time.perf_counter()
    experiments = {size: build(learner, version, f"bench {size}", size) for size in sizes}
    print(f"built {sum(sizes):,} runs in {time.perf_counter() - started:.0f} s")
    client = Client()
    client.force_login(learner)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}, requests per case and size: {args.requests}")
    print(f"{'case':<22} {'runs':>7} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    medians: dict[tuple[str, int], float] = {}
    figures = []
    urls = {size: f"/sandbox/experiments/{experiment.pk}/" for size, experiment in experiments.items()}
    for case, query in CASES.items():
        for size, (timings, queries) in measure(client, urls, query, args.requests).items():
            median = statistics.median(timings)
            p95 = timings[max(int(len(timings) * 0.95) - 1, 0)]
            medians[case, size] = median
            print(f"{case:<22} {size:>7} {median:>10.2f} {p95:>8.2f} {queries:>8}")
            figures += [
                (f"runs table {case} {size} median", median, "ms"),
                (f"runs table {case} {size} p95", p95, "ms"),
                (f"runs table {case} {size} queries", queries, "queries"),
            ]
    if len(sizes) > 1:
        for case in CASES:
            ratio = medians[case, sizes[-1]] / medians[case, sizes[0]]
            figures.append((f"runs table {case} {sizes[-1]} vs {sizes[0]}", ratio, "x"))
    if not args.no_shown:
        largest = experiments[sizes[-1]]
        url = f"/sandbox/experiments/{largest.pk}/"
        started = time.perf_counter()
        response = client.get(url, {"shown": 50000})
        elapsed = (time.perf_counter() - started) * 1000
        rows = response.content.decode().count('<tr class="run ')
        tracemalloc.start()
        client.get(url, {"shown": 50000})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        length = len(response.content)
        print(f"?shown=50000 on {sizes[-1]:,} runs: status {response.status_code}, {rows} rows, {length:,} bytes")
        figures += [
            (f"runs table shown=50000 {sizes[-1]} time", elapsed, "ms"),
            (f"runs table shown=50000 {sizes[-1]} peak memory", peak / 2**20, "MB"),
            (f"runs table shown=50000 {sizes[-1]} rows", rows, "rows"),
        ]
    for name, value, unit in figures:
        report(name, value, unit)


if __name__ == "__main__":
    main()
