"""Payload and server time of a 200,000-row dataset's profile page, and the HTML of run pages trained on it.

Issue 10, goal 3: any profile page is at most 300 KB and 300 ms. The dataset is the synthetic
churn table at 200,000 rows (6 columns, some values missing), uploaded as a CSV through the
upload service. The profile page is measured through Django's full stack with the test client,
in this process: its first request, then the median of `--requests` more, then one request with
the process's cache emptied and one with the stored profile removed too; its HTML bytes, and
the bytes sent when the browser says `Accept-Encoding: gzip` (whatever the site's middleware
answers). Two runs trained on the same rows by the worker's own code (a logistic regression on
`churned`, with its ROC curve; a linear regression on `monthly_charges`, with its predicted
against actual chart) give the run pages' HTML bytes.

    .venv/bin/python benchmarks/profile_page.py [--rows 200000] [--requests 7]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import gzip
import statistics
import time

from _setup import django_ready, report

TARGET_BYTES = 300 * 1024
TARGET_MS = 300


def _get(client: object, url: str, **headers: str) -> tuple[object, float]:
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return response, elapsed


def _html_bytes(response: object) -> int:
    body = response.content
    return len(gzip.decompress(body) if response.get("Content-Encoding") == "gzip" else body)


def _cold_request(client: object, url: str, version: object, *, stored: bool) -> float:
    """One request after the process's cache is emptied (and, unless `stored`, the stored profile removed)."""
    from django.core.cache import cache
    from django.core.files.storage import default_storage

    cache.clear()
    if not stored:
        profiles = [name for name in default_storage.listdir(version.file.rsplit("/", 1)[0])[1] if ".profile" in name]
        for name in profiles:
            default_storage.delete(f"{version.file.rsplit('/', 1)[0]}/{name}")
    return _get(client, url)[1]


def _trained_run(experiment: object, version: object, algorithm: str) -> object:
    """A run with the algorithm's default settings, trained in this process by the worker's code (no queue, no job)."""
    from sandbox.ml import training
    from sandbox.tracking.models import Run
    from sandbox.tracking.services import run_train

    run = Run.objects.create(
        experiment=experiment,
        owner=experiment.owner,
        dataset_version=version,
        name=algorithm.replace("_", "-"),
        algorithm=algorithm,
        params=training.check_params(training.ALGORITHMS[algorithm], {}),
        preparation={"impute": "median", "scale": True, "one_hot": True},
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
        seed=0,
    )
    run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=7)
    args = parser.parse_args()
    django_ready()
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    from sandbox.datasets.services import dataset_create_upload
    from sandbox.ml.datasets import make_churn
    from sandbox.tracking.services import experiment_create

    learner = User.objects.create_user(username="bench")
    frame = make_churn(rows=args.rows, seed=0)
    raw = frame.to_csv(index=False).encode()
    started = time.perf_counter()
    churn = dataset_create_upload(owner=learner, name="churn 200k", raw=raw, target="churned")
    upload_ms = (time.perf_counter() - started) * 1000
    version = churn.versions.get()
    print(f"upload: {version.rows:,} rows x {version.columns} columns, {len(raw) / 1e6:.2f} MB of CSV")

    client = Client()
    client.force_login(learner)
    url = reverse("sandbox:dataset_version", args=[churn.pk, version.number])
    first, first_ms = _get(client, url)
    timings = [_get(client, url)[1] for _ in range(args.requests)]
    median = statistics.median(timings)
    html_bytes = len(first.content)
    wire, _ = _get(client, url, accept_encoding="gzip")
    wire_bytes = len(wire.content)
    print(f"profile page: {html_bytes:,} bytes of HTML, {wire_bytes:,} bytes sent with Accept-Encoding: gzip")
    print(f"              first request {first_ms:.0f} ms, median of {args.requests} more {median:.0f} ms")
    # A web process that did not save the version (another worker, or after a restart) has nothing cached.
    cold_ms = _cold_request(client, url, version, stored=True)
    # A version saved before profiles were stored beside its CSV: its first view profiles its rows.
    unstored_ms = _cold_request(client, url, version, stored=False)
    print(f"              with nothing cached {cold_ms:.0f} ms, with no stored profile {unstored_ms:.0f} ms")
    verdict_bytes = "ok" if max(html_bytes, wire_bytes) <= TARGET_BYTES else "LARGER THAN TARGET"
    verdict_ms = "ok" if max(first_ms, median, cold_ms) <= TARGET_MS else "SLOWER THAN TARGET"
    print(f"target: <= {TARGET_BYTES // 1024} KB ({verdict_bytes}), <= {TARGET_MS} ms ({verdict_ms})")

    # Run pages: the charts a run stores grow with the validation split (20 % of the rows).
    regression_raw = frame.dropna(subset=["monthly_charges"]).to_csv(index=False).encode()
    charges = dataset_create_upload(owner=learner, name="charges 200k", raw=regression_raw, target="monthly_charges")
    run_pages = {}
    for dataset, algorithm in ((churn, "logistic_regression"), (charges, "linear_regression")):
        experiment = experiment_create(owner=learner, name=f"bench {algorithm}", dataset=dataset)
        run = _trained_run(experiment, dataset.versions.get(), algorithm)
        run_url = reverse("sandbox:run", args=[run.pk])
        _get(client, run_url)
        response, _ = _get(client, run_url)
        run_ms = statistics.median(_get(client, run_url)[1] for _ in range(args.requests))
        wire, _ = _get(client, run_url, accept_encoding="gzip")
        run_pages[algorithm] = (_html_bytes(response), len(wire.content), run_ms)
        print(
            f"run page ({algorithm}, {run.rows['validation']:,} validation rows): {_html_bytes(response):,} bytes "
            f"of HTML, {len(wire.content):,} sent with gzip, median {run_ms:.0f} ms"
        )

    report("upload 200k rows", upload_ms, "ms")
    report("profile page 200k rows HTML", html_bytes / 1024, "KB")
    report("profile page 200k rows sent with gzip", wire_bytes / 1024, "KB")
    report("profile page 200k rows first request", first_ms, "ms")
    report("profile page 200k rows median", median, "ms")
    report("profile page 200k rows with nothing cached", cold_ms, "ms")
    report("profile page 200k rows with no stored profile", unstored_ms, "ms")
    report("profile page target size", TARGET_BYTES / 1024, "KB")
    report("profile page target time", TARGET_MS, "ms")
    for algorithm, (page_bytes, sent, run_ms) in run_pages.items():
        report(f"run page {algorithm} 200k rows HTML", page_bytes / 1024, "KB")
        report(f"run page {algorithm} 200k rows sent with gzip", sent / 1024, "KB")
        report(f"run page {algorithm} 200k rows median", run_ms, "ms")


if __name__ == "__main__":
    main()
