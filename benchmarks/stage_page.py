"""Server time of the stage pages whose challenge reads a learner's runs, at 1,000 and at 50,000 runs.

Issue 10, goal 2: a stage page is flat in the number of runs (within 1.5x from 1,000 to 50,000).
Every stage page and its quiz page show the stage's challenge, so they run its check: the data
preparation, experiment tracking, testing and governance stages' checks read the learner's runs.
Two learners in one throw-away SQLite database (or DATABASE_URL), one per size, each with every
stage completed (the checks run all the same), a churn dataset (it has text columns) and the
breast-cancer set. Their runs are the checks' hard case: 98 % on breast cancer with distinct
parameters, one of them revealed; 2 % on churn without imputation, so "a full preparation
pipeline" is not met; twenty replays whose metrics differ from their originals'; nothing compared.
Requests go through Django's full stack with the test client, in this process, the sizes taking
turns request by request.

    .venv/bin/python benchmarks/stage_page.py [--sizes 1000,50000] [--requests 20]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`; each page's ratio of the
largest size to the smallest is its own line, `RESULT stage page <page> 50000 vs 1000: <r> x`.
"""

import argparse
import random
import statistics
import time

from _setup import django_ready, report

# The stages whose challenge reads runs, by challenge key.
STAGES = {
    "prep": "prep.pipeline-run",
    "tracking": "tracking.compare-runs",
    "testing": "testing.f1-gate",
    "governance": "governance.replay-run",
}
SMALL_CHURN = {"rows": 200, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}


def build(size: int) -> object:
    """A learner with `size` runs as the module's docstring describes, and every stage completed."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from lessons.models import Node, NodeProgress
    from sandbox.datasets.services import dataset_create_builtin, dataset_create_churn
    from sandbox.tracking import models as tracking_models
    from sandbox.tracking.models import Run
    from sandbox.tracking.services import experiment_create

    learner = User.objects.create_user(username=f"bench-{size}")
    now = timezone.now()
    for node in Node.objects.all():
        NodeProgress.objects.create(user=learner, node=node, quiz_passed_at=now, challenge_met_at=now, completed_at=now)
    cancer = dataset_create_builtin(owner=learner, name="breast_cancer")
    churn = dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)
    rng = random.Random(size)
    churn_runs = max(size // 50, 3)
    for dataset, count, impute in ((cancer, size - churn_runs, "median"), (churn, churn_runs, "none")):
        experiment = experiment_create(owner=learner, name=dataset.name, dataset=dataset)
        version = dataset.versions.get()
        for start in range(0, count, 5000):
            Run.objects.bulk_create(
                Run(
                    experiment=experiment,
                    owner=learner,
                    dataset_version=version,
                    name=f"forest-{n}",
                    algorithm="random_forest",
                    seed=n,
                    status=Run.Status.SUCCEEDED,
                    params={"n_estimators": 1 + n % 1000, "max_depth": 1 + n // 1000 % 50, "min_samples_leaf": 1},
                    preparation={"impute": impute, "scale": True, "one_hot": True},
                    split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
                    metrics={"val_f1": rng.random(), "val_accuracy": rng.random()},
                    test_metrics={"test_f1": 0.9},
                )
                for n in range(start, min(count, start + 5000))
            )
        runs = experiment.runs.order_by("pk")
        if dataset == cancer:
            runs.filter(pk=runs.first().pk).update(test_revealed_at=now)
            originals = list(runs[:20])
            Run.objects.bulk_create(
                Run(
                    experiment=experiment,
                    owner=learner,
                    dataset_version=version,
                    replay_of=original,
                    name=f"{original.name}-replay",
                    algorithm=original.algorithm,
                    seed=original.seed,
                    status=Run.Status.SUCCEEDED,
                    params=original.params,
                    preparation=original.preparation,
                    split=original.split,
                    metrics={**original.metrics, "val_f1": original.metrics["val_f1"] / 2},
                    test_metrics=original.test_metrics,
                )
                for original in originals
            )
        # bulk_create skips Run.save(): derive what save() derives, where the code has it.
        reindex = getattr(tracking_models, "runs_reindex", None)
        if reindex is not None:
            reindex(experiment=experiment)
    return learner


def measure(clients: dict[int, object], url: str, count: int) -> dict[int, tuple[list[float], int]]:
    """Timings and query count of one page for each size's learner. The sizes take turns, request by
    request, so that a machine busy with other work slows them alike and their ratio holds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    queries = {}
    for size, client in clients.items():
        for _ in range(2):
            client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200, url
        # Counted now: the log is emptied when the next request starts.
        queries[size] = len(captured.captured_queries)
    timings: dict[int, list[float]] = {size: [] for size in clients}
    for _ in range(count):
        for size, client in clients.items():
            started = time.perf_counter()
            response = client.get(url)
            timings[size].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {size: (sorted(timings[size]), queries[size]) for size in clients}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,50000", help="run counts, comma-separated, smallest first")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page and size")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    django_ready()
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from lessons.challenges import challenge_status
    from lessons.models import Node
    from lessons.services import content_sync

    content_sync()
    nodes = {name: Node.objects.get(challenge_key=key) for name, key in STAGES.items()}
    started = time.perf_counter()
    learners = {size: build(size) for size in sizes}
    print(f"built {sum(sizes):,} runs in {time.perf_counter() - started:.0f} s")
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}, requests per page and size: {args.requests}")
    print(f"{'page':<22} {'runs':>7} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  challenge steps met")
    medians: dict[tuple[str, int], float] = {}
    figures = []
    clients = {size: Client() for size in sizes}
    for size, client in clients.items():
        client.force_login(learners[size])
    for name, node in nodes.items():
        for kind, view in (("node", "lessons:node"), ("quiz", "lessons:quiz")):
            page = f"{name} {kind}"
            for size, (timings, queries) in measure(clients, reverse(view, args=[node.slug]), args.requests).items():
                met = challenge_status(node.challenge_key, learners[size]).steps
                steps = "".join("y" if done else "n" for _, done in met)
                median = statistics.median(timings)
                p95 = timings[max(int(len(timings) * 0.95) - 1, 0)]
                medians[page, size] = median
                print(f"{page:<22} {size:>7} {median:>10.2f} {p95:>8.2f} {queries:>8}  {steps}")
                figures += [
                    (f"stage page {page} {size} median", median, "ms"),
                    (f"stage page {page} {size} queries", queries, "queries"),
                ]
    if len(sizes) > 1:
        for page in dict.fromkeys(page for page, _ in medians):
            ratio = medians[page, sizes[-1]] / medians[page, sizes[0]]
            figures.append((f"stage page {page} {sizes[-1]} vs {sizes[0]}", ratio, "x"))
    for name, value, unit in figures:
        report(name, value, unit)


if __name__ == "__main__":
    main()
