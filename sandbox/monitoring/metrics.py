"""`GET /serve/<endpoint>/metrics`: the endpoint's counters in Prometheus' text exposition format (0.0.4), so
that a Prometheus server can scrape it as it scrapes any service.

The figures are counted from the request log (PredictionLog), not kept in a process's memory: a site runs
several web processes, and each would otherwise answer its own share of the counts, which Prometheus would read
as counters going up and down whichever process answered. From the log, every process answers the same numbers,
and a restart loses none of them.

- `mlopslab_requests_total{endpoint,version,role,status}`, a counter: answered requests by the version and role
  (stable, canary, shadow) that answered them and their status (`ok`, or `error` for a shadow's failure).
- `mlopslab_request_duration_seconds{endpoint,version}`, a histogram of the logged latency, with the buckets
  BUCKETS (1 ms to 2.5 s): cumulative `_bucket{le=…}` counts, `_sum` and `_count`.
- `mlopslab_labelled_accuracy{endpoint,version}`, a gauge, for a classifier: the share of correct predictions
  over the logged rows of the newest ACCURACY_WINDOW requests whose true label has arrived (a label counts only
  once its `labelled_at` has passed), and `mlopslab_labelled_rows` beside it, how many rows that share is of.

Authentication is `/ping`'s: a bearer token or the site's session, refused with the same 401/404/409 bodies.
"""

from __future__ import annotations

import json
import math

from django.db.models import Count, Q, Sum, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.registry.models import ModelVersion
from sandbox.serving import endpoint as serving
from sandbox.serving.models import Deployment, PredictionLog

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Upper bounds in seconds, as the format writes them, and the same in milliseconds, as the log keeps latency:
# comparing milliseconds with the bound written in milliseconds keeps 2.5 ms in the 2.5 ms bucket.
BUCKETS = ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5")
BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
ACCURACY_WINDOW = 10_000
"""The accuracy gauge reads the labels of at most this many of the newest labelled requests."""


def escape_label(value: object) -> str:
    """A label value as the format quotes it: backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """A HELP line's text: backslash and line feed escaped (a double quote stays as it is)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """A sample value as Prometheus writes one: integers without a fraction, NaN and the infinities by name."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{name}="{escape_label(value)}"' for name, value in labels.items()) + "}"


def _family(lines: list[str], name: str, kind: str, text: str) -> None:
    lines.append(f"# HELP {name} {escape_help(text)}")
    lines.append(f"# TYPE {name} {kind}")


def exposition(deployment_id: int, name: str) -> str:
    """The deployment's metrics as the text format: one pass over its log for the counts and the histogram
    together (grouped by version, role and status, each group with its latencies counted under every bound),
    the versions' numbers, and for a classifier its newest labelled requests."""
    logs = PredictionLog.objects.filter(deployment_id=deployment_id)
    buckets = {f"le{n}": Count("id", filter=Q(latency_ms__lte=bound)) for n, bound in enumerate(BUCKETS_MS)}
    groups = list(
        logs.order_by()
        .values_list("version_id", "role", "status")
        .annotate(requests=Count("id"), total=Sum("latency_ms"), **buckets)
    )
    accuracy = _accuracy(logs, deployment_id)
    ids = {group[0] for group in groups} | set(accuracy or ())
    numbers = dict(ModelVersion.objects.filter(pk__in=ids).order_by().values_list("pk", "number"))
    lines: list[str] = []

    _family(lines, "mlopslab_requests_total", "counter", "Requests answered, by version, role and status.")
    counted = sorted(
        ((numbers.get(version, 0), role, status), requests) for version, role, status, requests, *_ in groups
    )
    for (version, role, status), requests in counted:
        labels = _labels(endpoint=name, version=version, role=role, status=status)
        lines.append(f"mlopslab_requests_total{labels} {requests}")

    # A version's histogram is the sum of its groups (its roles and statuses).
    histograms: dict[int, list[float]] = {}
    for version, _role, _status, requests, total_ms, *cumulative in groups:
        summed = histograms.setdefault(numbers.get(version, 0), [0.0, 0] + [0] * len(BUCKETS_MS))
        summed[0] += total_ms or 0.0
        summed[1] += requests
        for index, below in enumerate(cumulative):
            summed[2 + index] += below
    _family(
        lines, "mlopslab_request_duration_seconds", "histogram",
        "Time to read, predict and answer a request, in seconds.",
    )  # fmt: skip
    for version, (total_ms, count, *cumulative) in sorted(histograms.items()):
        for bound, below in zip((*BUCKETS, "+Inf"), (*cumulative, count), strict=True):
            labels = _labels(endpoint=name, version=version, le=bound)
            lines.append(f"mlopslab_request_duration_seconds_bucket{labels} {below}")
        labels = _labels(endpoint=name, version=version)
        lines.append(f"mlopslab_request_duration_seconds_sum{labels} {number(total_ms / 1000)}")
        lines.append(f"mlopslab_request_duration_seconds_count{labels} {count}")

    if accuracy is not None:
        _family(
            lines, "mlopslab_labelled_accuracy", "gauge",
            f"Share of correct predictions over the rows of the newest {ACCURACY_WINDOW} requests whose true label "
            "has arrived.",
        )  # fmt: skip
        tallies = sorted((numbers.get(version, 0), tally) for version, tally in accuracy.items())
        for version, (correct, rows) in tallies:
            labels = _labels(endpoint=name, version=version)
            lines.append(f"mlopslab_labelled_accuracy{labels} {number(correct / rows)}")
        _family(lines, "mlopslab_labelled_rows", "gauge", "Rows the labelled accuracy is computed over.")
        for version, (_, rows) in tallies:
            lines.append(f"mlopslab_labelled_rows{_labels(endpoint=name, version=version)} {rows}")
    return "\n".join(lines) + "\n"


def _accuracy(logs: object, deployment_id: int) -> dict[int, tuple[int, int]] | None:
    """Per version id, (correct, labelled rows) over the newest ACCURACY_WINDOW requests whose labels have
    arrived; None for a regression, whose accuracy means nothing. Each distinct JSON text is decoded once."""
    task = (
        Deployment.objects.filter(pk=deployment_id)
        .values_list("stable_version__dataset_version__dataset__task", flat=True)
        .first()
    )
    if task != "classification":
        return None
    rows = (
        logs.filter(labelled_at__lte=timezone.now(), label__isnull=False)
        .order_by("-id")
        .values_list("version_id", Cast("predictions", TextField()), Cast("label", TextField()))[:ACCURACY_WINDOW]
    )
    decoded: dict[str, object] = {}
    found: dict[int, list[int]] = {}
    for version, predicted_text, label_text in rows:
        predictions, labels = _decoded(predicted_text, decoded), _decoded(label_text, decoded)
        if not isinstance(predictions, list) or not isinstance(labels, list):
            continue
        pairs = [(p, y) for p, y in zip(predictions, labels, strict=False) if p is not None and y is not None]
        if pairs:
            tally = found.setdefault(version, [0, 0])
            tally[0] += sum(p == y for p, y in pairs)
            tally[1] += len(pairs)
    return {version: (correct, total) for version, (correct, total) in found.items()}


def _decoded(text: object, cache: dict) -> object:
    if not isinstance(text, str):
        return text
    if text not in cache:
        cache[text] = json.loads(text)
    return cache[text]


@csrf_exempt
def metrics(request: HttpRequest, endpoint: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = serving.error_response(405, serving.BAD_REQUEST, "Use GET here.")
        response["Allow"] = "GET"
        return response
    try:
        row = serving.deployment_row(request, endpoint)
    except serving.Refusal as refusal:
        return refusal.response
    return HttpResponse(exposition(row.pk, endpoint), content_type=CONTENT_TYPE)
