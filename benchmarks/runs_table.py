"""Server time of an experiment's runs table with 1,000 runs (issue target: <= 100 ms median).

The page lists the newest 100 runs of the filtered and sorted 1,000 ("Show more" loads
the next hundred, as MLflow's UI pages its runs). Measured through Django's full stack
with the test client, in this process, on a throw-away SQLite database (or DATABASE_URL).

    .venv/bin/python benchmarks/runs_table.py [--runs 1000] [--requests 100]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import random
import statistics
import time

from _setup import django_ready, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    django_ready()
    from django.contrib.auth.models import User
    from django.test import Client

    from sandbox.datasets.services import dataset_create_builtin
    from sandbox.tracking.models import Run
    from sandbox.tracking.services import experiment_create

    learner = User.objects.create_user(username="bench")
    dataset = dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = experiment_create(owner=learner, name="bench", dataset=dataset)
    version = dataset.versions.get()
    rng = random.Random(0)
    metric_names = ("val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc", "val_log_loss")
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
            metrics={name: rng.random() for name in metric_names},
            tags={"sweep": str(n // 12)},
        )
        for n in range(args.runs)
    )
    client = Client()
    client.force_login(learner)
    url = f"/sandbox/experiments/{experiment.pk}/"
    cases = {
        "newest first": {},
        "sorted by val_f1": {"sort": "-metrics.val_f1"},
        "filtered and sorted": {
            "filter": "params.max_depth >= 5 and metrics.val_f1 > 0.2",
            "sort": "params.n_estimators",
        },
    }
    count = Run.objects.filter(experiment=experiment).count()
    print(f"runs in the experiment: {count}, requests per case: {args.requests}")
    print(f"{'case':<22} {'median ms':>10} {'p95 ms':>8} {'target ms':>10}  result")
    figures = []
    for name, query in cases.items():
        for _ in range(5):
            client.get(url, query)
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url, query)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        timings.sort()
        median = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        verdict = "ok" if median <= 100 else "SLOWER THAN TARGET"
        print(f"{name:<22} {median:>10.2f} {p95:>8.2f} {100:>10}  {verdict}")
        figures += [(f"runs table {name} median", median), (f"runs table {name} p95", p95)]
    for name, value in figures:
        report(name, value, "ms")


if __name__ == "__main__":
    main()
