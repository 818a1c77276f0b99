"""Sharing from the sandbox into a post: what a learner can attach, and the snapshot taken of it.

`attachable(user)` lists the learner's own recent finished runs, recorded comparisons, drift reports and their
deployments' failing requests, newest first, each as a `ref` ("run:12") with a label. `snapshot_take(user=, ref=)`
loads the object the ref names, only if it is the learner's (else `Refused`, 404), and copies into an unsaved
`Snapshot` exactly what its card (templates/community/partials/snapshot.html) shows, charts included as plotly
figure JSON built now by the very chart builders the sandbox pages use. The card reads nothing else, so readers
need no access to the sandbox, and a run edited or deleted later leaves the snapshot as it was.

What is copied is bounded: lists are capped, long texts cut, numbers in charts rounded to 5 significant digits,
and charts dropped (largest first, the card says so) until the whole `data` is under MAX_DATA_BYTES. Anything
that looks like an API token (`mlt_…`, or a `Bearer …` value) is replaced wherever it appears; the request log
keeps no headers and no token, but a learner may have pasted one into a request body, a tag or a note.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.http import Http404

from community.models import TITLE_MAX, Snapshot
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.monitoring.models import DriftReport
from sandbox.serving import selectors as serving_selectors
from sandbox.serving.models import PredictionLog, RefusedRequest
from sandbox.tracking import selectors as tracking_selectors
from sandbox.tracking.models import Experiment, Run

# The chart builders load with the first snapshot this process takes, as the sandbox pages load them.
charts = lazy_module("sandbox.charts")
report_charts = lazy_module("sandbox.monitoring.report_charts")

PER_KIND = 20
"""`attachable` lists at most this many objects of each kind."""
MAX_ITEMS = 50
"""Params, metrics, tags and preparation steps copied, each."""
MAX_ROWS = 100
"""Rows of a comparison table, columns of a drift report."""
MAX_CHARTS = 6
"""Charts of a drift report (drifted columns first)."""
MAX_IMPORTANCES = 30
MAX_TEXT = 500
"""A name, tag value or parameter as text is cut to this many characters."""
MAX_NOTE = 2000
MAX_BODY = 10_000
"""The logged request body (as JSON text) and the answer are cut to this many characters."""
MAX_DATA_BYTES = 150_000
"""A snapshot's `data`, as JSON, stays under this size: charts are dropped, largest first, until it does."""
SIGNIFICANT = 5
PRIMARY_METRICS = ("val_f1", "val_r2", "val_accuracy")
TOKEN_REMOVED = "[token removed]"
_TOKEN = re.compile(r"mlt_[A-Za-z0-9_\-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.~+/]{16,}=*")
_FIGURE = re.compile(r'<script type="application/json" id="[^"]*">(.*?)</script>', re.S)


@dataclass(frozen=True)
class Attachable:
    """Something of the learner's that a post can carry as a snapshot."""

    ref: str
    """"<kind>:<id>", what `snapshot_take` is given back."""
    kind: str
    """A `Snapshot.Kind` value."""
    label: str
    """What the learner picks it by, e.g. "Run 'baseline' — val_f1 0.81, 3 Dec"."""


# --- small helpers -----------------------------------------------------------------------------------------


def _day(moment: dt.datetime | None) -> str:
    return f"{moment.day} {moment:%b}" if moment else ""


def _when(moment: dt.datetime | None) -> str:
    """A moment as the card prints it, in UTC (the site's time zone)."""
    if moment is None:
        return ""
    moment = moment.astimezone(dt.UTC)
    return f"{moment.day} {moment:%b %Y}, {moment:%H:%M} UTC"


def _cut(text: object, limit: int = MAX_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(value: object, *, metric: bool = False) -> str:
    """A param, metric or tag value as the card prints it: a metric's float to 4 decimals (as the comparison
    table prints it), other scalars as Python writes them, lists and dicts as JSON."""
    if metric and isinstance(value, float):
        return f"{value:.4f}"
    if value is None or isinstance(value, str | bool | int | float):
        return _cut(value)
    return _cut(json.dumps(value, default=str))


def _pairs(mapping: dict, limit: int = MAX_ITEMS, *, metric: bool = False) -> list[list[str]]:
    """The first `limit` (name, value) pairs of a dict, by name, as text."""
    items = sorted(mapping.items(), key=lambda item: str(item[0]))[:limit]
    return [[_cut(name, 100), _value(value, metric=metric)] for name, value in items]


def _primary(metrics: dict) -> str | None:
    return next((m for m in PRIMARY_METRICS if m in metrics), next(iter(sorted(metrics)), None))


def _metric_text(metrics: dict) -> str:
    name = _primary(metrics)
    if name is None:
        return ""
    value = metrics[name]
    return f"{name} {value:.2f}" if isinstance(value, float) else f"{name} {value}"


def _rounded(value: object) -> object:
    """A figure with its floats kept to SIGNIFICANT digits (what a chart can show), to keep snapshots small."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT}g}")
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def _chart(html: object) -> dict | None:
    """The figure a sandbox chart builder's fragment carries, as plotly.js draws it (its data, layout and
    config), and its height; `snapshot_take` gives it an id."""
    match = _FIGURE.search(str(html or ""))
    if match is None:
        return None
    figure = _rounded(json.loads(match.group(1)))
    height = figure.get("layout", {}).get("height", 320)
    return {"height": int(height) if isinstance(height, int | float) else 320, "figure": figure}


def _charts(fragments: list) -> list[dict]:
    return [chart for chart in map(_chart, fragments) if chart]


def _scrub(value: object) -> object:
    """`value` with every text that looks like an API token or a bearer credential replaced."""
    if isinstance(value, str):
        return _TOKEN.sub(TOKEN_REMOVED, _BEARER.sub(f"Bearer {TOKEN_REMOVED}", value))
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _size(data: dict) -> int:
    return len(json.dumps(data, separators=(",", ":"), default=str).encode())


def _bounded(data: dict) -> dict:
    """Drop charts, the largest first, until `data` fits MAX_DATA_BYTES; the card says how many were left out."""
    chart_list = data.get("charts") or []
    while chart_list and _size(data) > MAX_DATA_BYTES:
        largest = max(range(len(chart_list)), key=lambda i: _size(chart_list[i]))
        chart_list.pop(largest)
        data["charts_omitted"] = data.get("charts_omitted", 0) + 1
    return data


def _ref(kind: str, pk: int) -> str:
    return f"{kind}:{pk}"


REFUSED_REQUEST = "refused_request"
"""The ref of a request the endpoint refused (a RefusedRequest), shared as a failing request."""
REF_KINDS = {**{kind: kind for kind in Snapshot.Kind.values}, REFUSED_REQUEST: Snapshot.Kind.FAILING_REQUEST}


def parse_ref(ref: str) -> tuple[str, int]:
    """(what the ref names, id) of a ref like "run:12" or "refused_request:3", or `Refused` (400) otherwise."""
    kind, _, number = str(ref or "").strip().partition(":")
    if kind not in REF_KINDS or not number.isascii() or not number.isdigit() or len(number) > 18:
        raise Refused("Choose something from your sandbox to attach.", status=400)
    return kind, int(number)


def _missing(what: str) -> Refused:
    return Refused(f"You have no such {what} to share (it may have been deleted).", status=404)


# --- what can be attached ----------------------------------------------------------------------------------


def _runs_attachable(user: User) -> list[Attachable]:
    runs = (
        Run.objects.filter(owner=user, status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED])
        .order_by("-created_at", "-pk")
        .only("pk", "name", "status", "metrics", "created_at", "finished_at")[:PER_KIND]
    )
    found = []
    for run in runs:
        detail = _metric_text(run.metrics) if run.status == Run.Status.SUCCEEDED else "failed"
        when = _day(run.finished_at or run.created_at)
        label = f"Run '{_cut(run.name, 60)}' — {', '.join(part for part in (detail, when) if part)}"
        found.append(Attachable(_ref(Snapshot.Kind.RUN, run.pk), Snapshot.Kind.RUN, label))
    return found


def _comparisons_attachable(user: User) -> list[Attachable]:
    experiments = [
        e
        for e in Experiment.objects.filter(owner=user)
        .order_by("-created_at", "-pk")
        .only("pk", "name", "compared_run_ids")[:200]
        if isinstance(e.compared_run_ids, list) and len(e.compared_run_ids) >= 2
    ][:PER_KIND]
    ids = {pk for e in experiments for pk in e.compared_run_ids if isinstance(pk, int)}
    names = dict(Run.objects.filter(owner=user, pk__in=ids).values_list("pk", "name"))
    found = []
    for experiment in experiments:
        runs = [names[pk] for pk in experiment.compared_run_ids if pk in names]
        if len(runs) < 2:
            continue
        shown = ", ".join(f"'{_cut(name, 30)}'" for name in runs[:4]) + (" …" if len(runs) > 4 else "")
        label = f"Comparison in '{_cut(experiment.name, 60)}' — {len(runs)} runs: {shown}"
        found.append(Attachable(_ref(Snapshot.Kind.COMPARISON, experiment.pk), Snapshot.Kind.COMPARISON, label))
    return found


def _reports_attachable(user: User) -> list[Attachable]:
    reports = (
        DriftReport.objects.filter(owner=user, status=DriftReport.Status.DONE)
        .select_related("deployment")
        .order_by("-created_at", "-pk")
        .only("pk", "dataset_drift", "share_drifted", "created_at", "deployment__name")[:PER_KIND]
    )
    found = []
    for report in reports:
        where = f" on '{report.deployment.name}'" if report.deployment else ""
        verdict = "dataset drift" if report.dataset_drift else "no dataset drift"
        share = f", {round((report.share_drifted or 0) * 100)} % of columns drifted"
        label = f"Drift report{where} — {verdict}{share}, {_day(report.created_at)}"
        found.append(Attachable(_ref(Snapshot.Kind.DRIFT_REPORT, report.pk), Snapshot.Kind.DRIFT_REPORT, label))
    return found


def _failing_attachable(user: User) -> list[Attachable]:
    owned = serving_selectors.deployments_owned(owner=user).order_by().values("pk")
    logs = (
        PredictionLog.objects.filter(deployment__in=owned, status=PredictionLog.Status.ERROR)
        .select_related("deployment", "version")
        .order_by("-pk")
        .only("pk", "error", "role", "created_at", "deployment__name", "version__number")[:PER_KIND]
    )
    found = []
    for log in logs:
        label = (
            f"Failing request to '{log.deployment.name}' — version {log.version.number} ({log.role}): "
            f"{_cut(_scrub(log.error), 60)}, {_day(log.created_at)}"
        )
        found.append(Attachable(_ref(Snapshot.Kind.FAILING_REQUEST, log.pk), Snapshot.Kind.FAILING_REQUEST, label))
    return found


def _refused_attachable(user: User) -> list[Attachable]:
    owned = serving_selectors.deployments_owned(owner=user).order_by().values("pk")
    refused = (
        RefusedRequest.objects.filter(deployment__in=owned)
        .select_related("deployment")
        .order_by("-pk")
        .only("pk", "status", "message", "created_at", "deployment__name")[:PER_KIND]
    )
    return [
        Attachable(
            f"{REFUSED_REQUEST}:{entry.pk}",
            Snapshot.Kind.FAILING_REQUEST,
            f"Refused request to '{entry.deployment.name}' — {entry.status}: {_cut(_scrub(entry.message), 60)}, "
            f"{_day(entry.created_at)}",
        )
        for entry in refused
    ]


def attachable(user: User) -> list[Attachable]:
    """What the learner can attach to a post, only their own: runs, comparisons, drift reports and failing
    requests, each kind newest first and at most PER_KIND of it, in that order of kinds."""
    if not user.is_authenticated:
        return []
    kinds = (_runs_attachable, _comparisons_attachable, _reports_attachable, _refused_attachable, _failing_attachable)
    return [item for listing in kinds for item in listing(user)]


# --- taking a snapshot -------------------------------------------------------------------------------------


def _run_charts(run: Run) -> list[dict]:
    """The run page's charts (sandbox.tracking.views._run_context), built by the same builders."""
    data = run.charts or {}
    built = []
    if "confusion" in data and "labels" in data:
        built.append(charts.confusion_html(data["labels"], data["confusion"]))
    if "roc" in data:
        built.append(charts.roc_html(data["roc"]))
    if "residuals" in data:
        built.append(charts.residuals_html(data["residuals"]))
    if data.get("importances"):
        built.append(charts.importances_html(list(data["importances"])[:MAX_IMPORTANCES]))
    return _charts(built)


def _run_data(run: Run) -> dict:
    version = run.dataset_version
    metrics = dict(run.metrics or {})
    test = dict(run.test_metrics or {}) if run.test_revealed_at else {}
    data = {
        "name": _cut(run.name),
        "status": run.get_status_display(),
        "algorithm": run.algorithm,
        "params": _pairs(run.params or {}),
        "metrics": _pairs(metrics, metric=True),
        "test_metrics": _pairs(test, metric=True),
        "dataset": _cut(version.dataset.name),
        "dataset_version": f"v{version.number} ({version.short_hash})",
        "preparation": _pairs(run.preparation or {}),
        "tags": _pairs(run.tags or {}),
        "note": _cut(run.note, MAX_NOTE),
        "seed": run.seed,
        "when": _when(run.finished_at or run.created_at),
        "error": _cut(run.error, MAX_NOTE) if run.status == Run.Status.FAILED else "",
        "charts": _run_charts(run) if run.status == Run.Status.SUCCEEDED else [],
    }
    return data


def _take_run(user: User, pk: int) -> tuple[str, dict]:
    try:
        run = tracking_selectors.run_get_owned(owner=user, run_id=pk)
    except Http404:
        raise _missing("run") from None
    if run.status not in (Run.Status.SUCCEEDED, Run.Status.FAILED):
        raise Refused("This run has not finished yet; share it once it has.", status=409)
    return f"Run '{run.name}'", _run_data(run)


def _take_comparison(user: User, pk: int) -> tuple[str, dict]:
    try:
        experiment = tracking_selectors.experiment_get_owned(owner=user, experiment_id=pk)
    except Http404:
        raise _missing("comparison") from None
    ids = [i for i in experiment.compared_run_ids or [] if isinstance(i, int)]
    runs = tracking_selectors.runs_for_comparison(experiment=experiment, run_ids=ids) if ids else None
    if runs is None:
        raise _missing("comparison")
    runs = list(Run.objects.filter(pk__in=[r.pk for r in runs]).select_related("dataset_version").order_by("pk"))
    rows, param_names, metric_names = tracking_selectors.comparison_table(runs=runs)
    focus = next((m for m in PRIMARY_METRICS if m in metric_names), metric_names[0] if metric_names else "")
    built = [
        charts.parallel_html(runs, param_names, focus) if focus else "",
        charts.metric_bars_html(runs, [m for m in metric_names if not m.endswith("_std")]),
    ]
    data = {
        "experiment": _cut(experiment.name),
        "dataset": _cut(experiment.dataset.name),
        "runs": [{"name": _cut(run.name), "algorithm": run.algorithm} for run in runs],
        "rows": [_comparison_row(row) for row in rows[:MAX_ROWS]],
        "rows_omitted": max(0, len(rows) - MAX_ROWS),
        "charts": _charts(built),
    }
    return f"Comparison of {len(runs)} runs in '{experiment.name}'", data


def _comparison_row(row: tracking_selectors.ComparisonRow) -> dict:
    values = ["—" if value is None else _value(value) for value in row.values]
    return {"section": row.section, "name": _cut(row.name, 100), "values": values, "same": row.same}


def _score(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def _rule(column: dict) -> str:
    """When the column's test calls it drift, as the report page writes it."""
    if column["test"] in report_charts.P_VALUE_TESTS:
        return f"p < {column['threshold']:g}"
    return f"≥ {column['threshold']:g}"


def _take_report(user: User, pk: int) -> tuple[str, dict]:
    report = (
        DriftReport.objects.filter(owner=user, pk=pk)
        .select_related("deployment", "reference__dataset", "version__registered_model")
        .first()
    )
    if report is None:
        raise _missing("drift report")
    if report.status != DriftReport.Status.DONE:
        raise Refused("This drift report has not finished; share it once it has.", status=409)
    columns = report_charts.columns_shown(report)
    trained = (
        f"version {report.version.number} of {report.version.registered_model.name}" if report.version else "the model"
    )
    if report.source == DriftReport.Source.UPLOAD:
        current = "an uploaded batch"
    else:
        current = f"the newest {report.window} requests"
    window = ""
    if report.window_start and report.window_end:
        start, end = report.window_start.astimezone(dt.UTC), report.window_end.astimezone(dt.UTC)
        window = f"{start:%H:%M:%S} to {end:%H:%M:%S} UTC"
    data = {
        "endpoint": report.deployment.name if report.deployment else "",
        "reference": f"{_cut(report.reference.dataset.name)} v{report.reference.number}, "
        f"the data {trained} was trained on",
        "reference_rows": report.reference_rows,
        "current": current,
        "current_rows": report.current_rows,
        "window": window,
        "trigger": report.get_trigger_display(),
        "dataset_drift": bool(report.dataset_drift),
        "tested": len(columns),
        "share_drifted": f"{round((report.share_drifted or 0) * 100)} %",
        "drift_share": f"{round(report.drift_share * 100)} %",
        "prediction": report_charts.side_sentence(report.prediction_drift, "predictions"),
        "labels": report_charts.side_sentence(report.label_drift, "labels"),
        "columns": [
            {
                "column": _cut(column["column"], 200),
                "test": column["test_name"],
                "measure": "p-value" if column["test"] in report_charts.P_VALUE_TESTS else "distance",
                "score": _score(column["score"]),
                "rule": _rule(column),
                "drifted": bool(column["drifted"]),
                "chosen": column.get("chosen") == "chosen",
                "reason": _cut(column.get("reason", "")),
            }
            for column in columns[:MAX_ROWS]
        ],
        "columns_omitted": max(0, len(columns) - MAX_ROWS),
        "when": _when(report.finished_at or report.created_at),
        "charts": _charts([column["chart"] for column in columns[:MAX_CHARTS]]),
    }
    return f"Drift report on '{data['endpoint']}'" if data["endpoint"] else "Drift report", data


def _json_text(value: object, limit: int = MAX_BODY) -> tuple[str, bool]:
    """`value` as indented JSON text, cut to `limit` characters; and whether it was cut."""
    text = json.dumps(value, indent=1, default=str, ensure_ascii=False)
    return (text, False) if len(text) <= limit else (text[: limit - 1] + "…", True)


def _caller_answer(answered: PredictionLog | None) -> dict | None:
    """What the caller was answered, when the failing row is a shadow's beside an answered one."""
    if answered is None:
        return None
    predictions = _json_text(answered.predictions[:10], 2000)[0]
    return {"version": answered.version.number, "role": answered.get_role_display(), "predictions": predictions}


def _take_failing(user: User, pk: int) -> tuple[str, dict]:
    owned = serving_selectors.deployments_owned(owner=user).order_by().values("pk")
    log = (
        PredictionLog.objects.filter(deployment__in=owned, pk=pk, status=PredictionLog.Status.ERROR)
        .select_related("deployment", "version__registered_model")
        .first()
    )
    if log is None:
        raise _missing("failing request")
    # A shadow's failure never reached the caller: the request's other row says what the caller got.
    answered = (
        PredictionLog.objects.filter(
            deployment=log.deployment, request_id=log.request_id, status=PredictionLog.Status.OK
        )
        .exclude(pk=log.pk)
        .select_related("version")
        .only("version__number", "role", "predictions")
        .first()
    )
    body, body_cut = _json_text({"dataframe_records": log.inputs})
    response = _cut(log.error, MAX_BODY)
    data = {
        "endpoint": log.deployment.name,
        "model": _cut(log.version.registered_model.name),
        "version": log.version.number,
        "role": log.get_role_display(),
        "status": log.get_status_display(),
        "rows": log.row_count,
        "request": body,
        "request_cut": body_cut,
        "response": response,
        "latency_ms": round(log.latency_ms, 1),
        "caller_answer": _caller_answer(answered),
        "when": _when(log.created_at),
    }
    return f"Failing request to '{log.deployment.name}' (version {log.version.number})", data


def _take_refused(user: User, pk: int) -> tuple[str, dict]:
    """A request the endpoint refused with a 4xx: the body as sent and MLflow's error answer."""
    owned = serving_selectors.deployments_owned(owner=user).order_by().values("pk")
    entry = (
        RefusedRequest.objects.filter(deployment__in=owned, pk=pk)
        .select_related("deployment", "version__registered_model")
        .first()
    )
    if entry is None:
        raise _missing("refused request")
    request_text = entry.body if len(entry.body) <= MAX_BODY else entry.body[: MAX_BODY - 1] + "…"
    data = {
        "endpoint": entry.deployment.name,
        "model": _cut(entry.version.registered_model.name) if entry.version else "",
        "version": entry.version.number if entry.version else None,
        "role": "",
        "status": f"{entry.status} {entry.error_code}",
        "rows": None,
        "content_type": entry.content_type,
        "request": request_text,
        "request_cut": entry.body_bytes > len(request_text),
        "response": json.dumps({"error_code": entry.error_code, "message": entry.message}, ensure_ascii=False),
        "latency_ms": None,
        "caller_answer": None,
        "refused": True,
        "when": _when(entry.created_at),
    }
    return f"Refused request to '{entry.deployment.name}' ({entry.status} {entry.error_code})", data


_TAKERS = {
    REFUSED_REQUEST: _take_refused,
    Snapshot.Kind.RUN: _take_run,
    Snapshot.Kind.COMPARISON: _take_comparison,
    Snapshot.Kind.DRIFT_REPORT: _take_report,
    Snapshot.Kind.FAILING_REQUEST: _take_failing,
}


def snapshot_take(*, user: User, ref: str) -> Snapshot:
    """An unsaved snapshot (`post` unset) of the learner's own object named by `ref`, holding in `data` all its
    card shows; `Refused` (404) when the learner has no such object, 400 for a ref that names nothing, 409 for
    a run or report still running. The caller sets `post` and saves it."""
    kind, pk = parse_ref(ref)
    if not user.is_authenticated:
        raise _missing(Snapshot.Kind(kind).label.lower())
    title, data = _TAKERS[kind](user, pk)
    data = _bounded(_scrub(data))
    # Ids for the card's elements (its title, each chart's data block), unique on any page that shows it.
    data["id"] = f"snapshot-{uuid.uuid4().hex[:12]}"
    for number, chart in enumerate(data.get("charts") or [], start=1):
        chart["id"] = f"{data['id']}-chart-{number}"
    return Snapshot(kind=REF_KINDS[kind], title=_cut(_scrub(title), TITLE_MAX), data=data, source_id=pk)
