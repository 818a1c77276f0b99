"""What the monitoring dashboard shows, read from the request log: traffic, latency, predictions and, once the
true labels have arrived, accuracy and macro F1, per time bucket and per version, with the deployment's drift
verdicts and its newest timeline events.

A dashboard must draw 100,000 logged requests in well under a second. Fetched a row at a time, 100,000 rows cost
Python half a million objects before any arithmetic, and their JSON a `json.loads` each; grouped by the database
instead, they cost SQLite a sort of them all. So the log is read in one aggregate query that hands each column
back as one text, in the order the rows were scanned: the version, its role and the time bucket packed into one
integer per request, the latency in microseconds, the predictions' JSON text and the arrived labels' JSON text.
numpy parses the numbers from those texts in C; each distinct JSON text (a deployment answering one row a request
has a handful) is decoded once. Everything else is numpy: per (version, bucket) group, counts, exact percentiles
from one sort, and per-class tallies by `bincount`.

It reads at most the newest MAX_REQUESTS requests (found by index seeks: the newest and the MAX_REQUESTS-th
newest), and decodes their predictions newest bucket first until MAX_PREDICTION_ROWS logged rows have been read
(a request logs up to 100 rows): older requests are left out, and the page says so. Over 100,000 requests the
page renders in about a quarter of a second (benchmarks/monitoring_dashboard.py).

A label counts only once it has arrived (`labelled_at <= now`): the traffic simulator writes each request's true
labels with the time they arrive, after the learner's label delay, so accuracy shows late, as in production.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import models
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from mlopslab.lazy import lazy_module
from sandbox.jobs.models import Job
from sandbox.monitoring.models import DriftPolicy, DriftReport, MonitoringEvent, TrafficRun
from sandbox.registry.models import ModelVersion
from sandbox.serving.models import Deployment, PredictionLog

# numpy loads with the first dashboard this process draws, not when the site starts.
np = lazy_module("numpy")

MAX_REQUESTS = 100_000
"""The dashboard reads at most this many of the newest logged requests."""
MAX_PREDICTION_ROWS = 200_000
"""...and decodes the predictions (and labels) of their logged rows, newest buckets first, until this many."""
MAX_BUCKETS = 60
# Bucket widths, in seconds: the first that cuts the span into at most MAX_BUCKETS buckets is chosen.
BUCKET_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
    2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400, 365 * 86400,
)  # fmt: skip
MAX_CLASSES_SHOWN = 6
"""The prediction chart draws the most frequent classes, and the rest as one "other" line."""
OTHER = "other"
EVENTS_SHOWN = 30
REPORTS_SHOWN = 10
REPORTS_MARKED = 50
"""The newest reports drawn as drift markers; a report still running is among them, being the newest."""
CLASSIFICATION = "classification"
ROLES = (PredictionLog.Role.STABLE, PredictionLog.Role.CANARY, PredictionLog.Role.SHADOW)
ROLE_ORDER = {role: order for order, role in enumerate(ROLES)}
# A request's version, role and bucket, packed into one integer: (version id * 4 + role) * SLOTS + bucket +
# SHIFT. SHIFT keeps a row logged a moment before the window's first (out of order) non-negative.
SLOTS, SHIFT = 1 << 13, 1 << 12
SEPARATOR = "\x1e"
"""Between the JSON texts of two requests: JSON writes a control character only escaped, never as it is."""


def deployment_get_owned(*, owner: User, deployment_id: int) -> Deployment:
    """The learner's own deployment with what the dashboard names (its model, versions and task), or 404."""
    return get_object_or_404(
        Deployment.objects.select_related(
            "registered_model", "stable_version__dataset_version__dataset", "candidate_version", "current_release"
        ),
        pk=deployment_id,
        owner=owner,
    )


def deployment_task(deployment: Deployment) -> str:
    """ "classification" or "regression", from the data the serving version was trained on."""
    version = deployment.stable_version
    if version is None:
        return CLASSIFICATION
    return version.dataset_version.dataset.task


# --- reading the log ---------------------------------------------------------------------------------------


class Epoch(models.Func):
    """A date-time as seconds since 1970 (UTC), as a float computed by the database."""

    output_field = models.FloatField()
    arity = 1

    def as_sql(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        # PostgreSQL: date_part answers a float; EXTRACT answers a numeric since version 14, slower to compute.
        return super().as_sql(compiler, connection, template="date_part('epoch', %(expressions)s)", **extra)

    def as_sqlite(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        # SQLite keeps a date-time as UTC text; julianday() reads it (to the millisecond), 2440587.5 is 1970-01-01
        # as a Julian day. Rounded to the millisecond, which the float arithmetic would otherwise miss by a hair.
        return super().as_sql(
            compiler, connection, template="round((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)", **extra
        )


class Seconds(models.Func):
    """A date-time as whole seconds since 1970 (UTC), an integer: cheaper for the database than a float, and
    exact for buckets of whole seconds."""

    output_field = models.BigIntegerField()
    arity = 1

    def as_sql(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        # PostgreSQL: date_part's float (exact to the microsecond for centuries yet), floored; EXTRACT's numeric
        # costs a fifth more over 100,000 rows.
        template = "CAST(FLOOR(date_part('epoch', %(expressions)s)) AS bigint)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        # unixepoch() reads the text straight to an integer (SQLite 3.38 and later); strftime's text costs more.
        template = (
            "unixepoch(%(expressions)s)"
            if sqlite3.sqlite_version_info >= (3, 38)
            else "CAST(strftime('%%s', %(expressions)s) AS INTEGER)"
        )
        return super().as_sql(compiler, connection, template=template, **extra)


class Joined(models.Aggregate):
    """The rows' values as one text, `separator` between two (PostgreSQL's string_agg, SQLite's group_concat).

    Every aggregate of one query is handed the rows in the same order, the order of the scan, by both
    databases (none of them sorts its own input: no ORDER BY, no DISTINCT), so the texts of one query line up
    value by value. Both leave out a null: texts meant to line up join only non-null values."""

    function = "STRING_AGG"
    output_field = models.TextField()
    arity = 2

    def __init__(self, expression: object, separator: str = ",", **extra: object) -> None:
        super().__init__(expression, Value(separator), **extra)

    def _parts(self, compiler: object) -> tuple[str, str, list]:
        # The joined value and the separator (an aggregate's own source expressions end with its filter).
        value, separator = self.source_expressions
        value_sql, value_params = compiler.compile(value)
        separator_sql, separator_params = compiler.compile(separator)
        return value_sql, separator_sql, [*value_params, *separator_params]

    def as_sql(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        value_sql, separator_sql, params = self._parts(compiler)
        return f"STRING_AGG(CAST({value_sql} AS text), {separator_sql})", params

    def as_sqlite(self, compiler: object, connection: object, **extra: object) -> tuple[str, list]:
        value_sql, separator_sql, params = self._parts(compiler)
        return f"GROUP_CONCAT({value_sql}, {separator_sql})", params


@dataclass(frozen=True)
class Window:
    """The requests the dashboard reads: log ids `oldest` to `newest`, made from `first` to `last` (seconds since
    1970). `capped`: the log holds older requests, which it leaves out. `dense`: the window is MAX_REQUESTS
    requests and they are nearly all the rows between its two ids, other deployments' rows being few there."""

    oldest: int
    newest: int
    first: float
    last: float
    capped: bool
    dense: bool = False


DENSE = 1.25
"""A full window is read along the table itself, not the index, when its id range holds at most this many rows
for each of its own."""


def window_find(*, deployment: Deployment, limit: int = MAX_REQUESTS) -> Window | None:
    """The newest `limit` requests' bounds, or None before any request: one query of index seeks down
    `prediction_newest` (the newest request, the `limit`-th newest, the oldest), and for a full window the
    `limit`-th newest's time by its id. Walking the index to the `limit`-th newest for its id alone reads no
    table row; PostgreSQL would read every row on the way to its time."""
    logs = PredictionLog.objects.filter(deployment_id=deployment.pk).annotate(at=Epoch("created_at"))
    newest, oldest = logs.order_by("-id"), logs.order_by("id")
    seeks = {
        "top_id": newest.values("id")[:1], "top_at": newest.values("at")[:1],
        "edge_id": newest.values("id")[limit - 1 : limit],
        "bottom_id": oldest.values("id")[:1], "bottom_at": oldest.values("at")[:1],
    }  # fmt: skip
    found = (
        Deployment.objects.filter(pk=deployment.pk)
        .annotate(**{name: models.Subquery(query) for name, query in seeks.items()})
        .values_list(*seeks)
        .first()
    )
    if found is None or found[0] is None:
        return None
    top_id, top_at, edge_id, bottom_id, bottom_at = found
    full = edge_id is not None
    oldest_id, oldest_at = bottom_id, bottom_at
    if full:
        oldest_id = edge_id
        oldest_at = logs.filter(pk=edge_id).values_list("at", flat=True).first()
        if oldest_at is None:  # deleted in between: read what is there
            return window_find(deployment=deployment, limit=limit)
    # Rows are logged as they are answered, so ids and times rise together, near enough: a row written a
    # moment out of order is put in the first or last bucket.
    return Window(
        oldest_id, top_id, min(oldest_at, top_at), max(oldest_at, top_at), capped=full and bottom_id < edge_id,
        dense=full and top_id - edge_id + 1 <= DENSE * limit,
    )  # fmt: skip


@dataclass(frozen=True)
class LogRead:
    """The window's requests, one entry per request in the order of the scan, and what was counted beside."""

    slot: object
    """Version id and role per request, as version id * 4 + the role's index in ROLES."""
    bucket: object
    """Bucket per request (within 0..buckets-1)."""
    latency: object
    """Microseconds per request (integers: they sort faster)."""
    predictions: list[str]
    """The distinct predictions' JSON texts..."""
    prediction_codes: object
    """...and which of them each request logged."""
    labels: list[str]
    """The distinct arrived labels' JSON texts ("" for a request without, or not yet)..."""
    label_codes: object
    """...and which of them each request has."""
    waiting: int
    """Requests whose labels are logged but arrive after now."""
    errors: dict[int, int]
    """Failed answers (a shadow's) by version id."""

    def __len__(self) -> int:
        return len(self.slot)


def log_read(
    *, deployment: Deployment, window: Window, origin: int, width: int, buckets: int, now: dt.datetime
) -> LogRead | None:
    """The window's requests in one aggregate query (see the module's docstring); None when they are gone."""
    role = Case(
        *(When(role=name, then=Value(code)) for code, name in enumerate(ROLES) if code),
        default=Value(0), output_field=models.IntegerField(),
    )  # fmt: skip
    bucket = (Seconds("created_at") - Value(int(origin))) / Value(int(width))
    packed = (F("version_id") * Value(4) + role) * Value(SLOTS) + bucket + Value(SHIFT)
    arrived = Case(
        When(labelled_at__lte=now, then=Coalesce(Cast("label", models.TextField()), Value(""))),
        default=Value(""), output_field=models.TextField(),
    )  # fmt: skip
    errored = Case(When(status=PredictionLog.Status.ERROR, then=F("version_id")), default=None)
    rows = PredictionLog.objects.filter(id__gte=window.oldest, id__lte=window.newest)
    if window.dense:
        # Along the table between the two ids, rather than the index then the table row by row: a fifth of the
        # time when the rows are nearly all this deployment's. `+ 0` keeps the database off the index.
        rows = rows.alias(owner_deployment=F("deployment_id") + Value(0)).filter(owner_deployment=deployment.pk)
    else:
        rows = rows.filter(deployment_id=deployment.pk)
    found = rows.aggregate(
        requests=Count("id"),
        packed=Joined(packed),
        latency=Joined(Cast(F("latency_ms") * Value(1000.0), models.BigIntegerField())),
        predictions=Joined(Cast("predictions", models.TextField()), SEPARATOR),
        labels=Joined(arrived, SEPARATOR),
        errors=Joined(errored),
        waiting=Count("id", filter=Q(labelled_at__gt=now)),
    )
    count = found["requests"]
    if not count:
        return None
    packed = np.fromstring(found["packed"], dtype=np.int64, sep=",")
    latency = np.fromstring(found["latency"], dtype=np.int64, sep=",")
    predictions, prediction_codes = _codes(found["predictions"], count)
    labels, label_codes = _codes(found["labels"], count)
    if not (len(packed) == len(latency) == len(prediction_codes) == len(label_codes) == count):
        raise RuntimeError("the request log's columns came back of different lengths")
    errors: dict[int, int] = {}
    for version_id in (found["errors"] or "").split(","):
        if version_id:
            errors[int(version_id)] = errors.get(int(version_id), 0) + 1
    return LogRead(
        slot=packed // SLOTS, bucket=np.clip(packed % SLOTS - SHIFT, 0, buckets - 1), latency=latency,
        predictions=predictions, prediction_codes=prediction_codes, labels=labels, label_codes=label_codes,
        waiting=found["waiting"], errors=errors,
    )  # fmt: skip


def _codes(joined: str, count: int) -> tuple[list[str], object]:
    """The distinct texts among `count` texts joined by SEPARATOR, and each one's index among them.

    Found by numpy from the bytes: the separators give each text's start and length, and the texts of one
    length are compared as fixed-width records (a deployment's predictions have a few lengths: "[0]", "[1]";
    labels add the empty text of a request without). Texts of very many lengths, or very long, go through a
    dict instead, one by one."""
    data = np.frombuffer(joined.encode() + SEPARATOR.encode(), dtype=np.uint8)
    ends = np.flatnonzero(data == ord(SEPARATOR))
    if len(ends) != count:
        raise RuntimeError("the request log's texts came back of a different count than its requests")
    starts = np.empty(count, np.int64)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts
    sizes = np.unique(lengths)
    if len(sizes) > 64 or len(data) > 32 * 1024 * 1024:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(text, len(index)) for text in joined.split(SEPARATOR)), np.int64)
        return list(index), codes
    texts: list[str] = []
    codes = np.empty(count, np.int64)
    for size in sizes.tolist():
        chosen = np.flatnonzero(lengths == size)
        if size == 0:
            codes[chosen] = len(texts)
            texts.append("")
            continue
        gathered = data[starts[chosen, None] + np.arange(size)]
        if size <= 8:
            # Up to eight bytes a text is a number: numpy finds distinct numbers faster than distinct records.
            padded = np.zeros((len(chosen), 8), np.uint8)
            padded[:, :size] = gathered
            distinct, inverse = np.unique(padded.view(np.uint64).reshape(-1), return_inverse=True)
            found = [int(value).to_bytes(8, sys.byteorder)[:size] for value in distinct.tolist()]
        else:
            records = np.ascontiguousarray(gathered).view(f"V{size}").reshape(-1)
            distinct, inverse = np.unique(records, return_inverse=True)
            found = [bytes(value) for value in distinct.tolist()]
        codes[chosen] = inverse.reshape(-1) + len(texts)
        texts += [value.decode() for value in found]
    return texts, codes


def _json(text: str, cache: dict) -> object:
    """A JSON text decoded once however many requests share it; "" (no labels) is None."""
    if not text:
        return None
    found = cache.get(text)
    if found is None:
        found = cache[text] = json.loads(text)
    return found


# --- buckets and groups ------------------------------------------------------------------------------------


def bucket_seconds(first: float, last: float) -> int:
    """The narrowest width of BUCKET_STEPS that covers `first` to `last` in at most MAX_BUCKETS buckets aligned
    on multiples of the width (so that 12:00:00, 12:01:00… and not the first request's odd second begin them)."""
    for step in BUCKET_STEPS:
        if int(last // step) - int(first // step) + 1 <= MAX_BUCKETS:
            return step
    return BUCKET_STEPS[-1]


def _quantiles(values: object, groups: object, count: int, qs: tuple[float, ...]) -> list:
    """Per group (0..count-1), each quantile of its values, interpolated as numpy's default ("linear") does;
    NaN for an empty group. One sort of all the values, by group then value, serves every group: of one
    integer a value when the values are whole numbers below 2 ** 40 (latencies in microseconds), which sorts
    in half the time of sorting by two keys."""
    whole = values.dtype.kind in "iu" and (not len(values) or (values.min() >= 0 and values.max() < 1 << 40))
    order = np.argsort(groups * (1 << 40) + values) if whole else np.lexsort((values, groups))
    ordered = values[order]
    sizes = np.bincount(groups, minlength=count)
    starts = np.cumsum(sizes) - sizes
    present = sizes > 0
    answers = []
    for q in qs:
        result = np.full(count, np.nan)
        position = starts[present] + (sizes[present] - 1) * q
        low = np.floor(position).astype(np.int64)
        high = np.ceil(position).astype(np.int64)
        result[present] = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        answers.append(result)
    return answers


def macro_f1(
    groups: object, truth: object, predicted: object, count: int, classes: int, weights: object = None
) -> object:
    """Per group, scikit-learn's `f1_score(average="macro")` over that group's rows (each row `weights` times):
    the mean F1 of the classes present among its labels or its predictions (a class with neither is no part of
    its mean). F1 of a class is 2 TP / (2 TP + FP + FN), and 2 TP + FP + FN is how often it was predicted plus
    how often it was true."""
    weights = np.ones(len(groups)) if weights is None else weights
    size = count * classes
    hits = np.where(truth == predicted, weights, 0)
    tp = np.bincount(groups * classes + truth, weights=hits, minlength=size).reshape(count, classes)
    true_count = np.bincount(groups * classes + truth, weights=weights, minlength=size).reshape(count, classes)
    predicted_count = np.bincount(groups * classes + predicted, weights=weights, minlength=size).reshape(count, classes)
    denominator = true_count + predicted_count
    present = denominator > 0
    f1 = np.divide(2 * tp, denominator, out=np.zeros((count, classes)), where=present)
    seen = present.sum(axis=1)
    return np.divide(f1.sum(axis=1), seen, out=np.full(count, np.nan), where=seen > 0)


def _listed(values: object) -> list:
    """A numpy row as a chart's values: Python floats, with None where there is nothing (a gap in the line)."""
    return [None if value != value else round(float(value), 6) for value in values.tolist()]


# --- what the page gets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionSeries:
    """One version's line on every chart, one value per bucket (None: nothing to show in that bucket)."""

    version_id: int
    number: int
    roles: tuple[str, ...]
    requests: int
    errors: int
    per_minute: list
    p50: list
    p95: list
    labelled: list
    accuracy: list
    f1: list
    error_mae: list
    shares: dict[str, list] = field(default_factory=dict)
    mean: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"v{self.number} ({', '.join(self.roles)})"

    def latest(self, values: list) -> tuple[int, float] | None:
        """The last bucket with a value, and that value."""
        for index in range(len(values) - 1, -1, -1):
            if values[index] is not None:
                return index, values[index]
        return None


@dataclass(frozen=True)
class DriftMarker:
    report_id: int
    at: dt.datetime
    drifted: bool
    share: float | None
    text: str


@dataclass(frozen=True)
class Dashboard:
    task: str
    read: int
    """Requests read (at most `cap`)."""
    cap: int
    capped: bool
    """Whether the log holds more requests than were read."""
    predictions_capped: bool
    """Whether older requests' predictions were left out of the prediction and accuracy charts."""
    prediction_cap: int
    bucket_seconds: int
    starts: list[dt.datetime]
    """Each bucket's start (UTC)."""
    centres: list[str]
    """Each bucket's middle, as the charts' x values."""
    versions: list[VersionSeries]
    classes: list[str]
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    labelled_rows: int
    waiting: int
    markers: list[DriftMarker]
    x_range: list[str]

    @property
    def empty(self) -> bool:
        return self.read == 0

    @property
    def bucket_text(self) -> str:
        return duration_text(self.bucket_seconds)

    @property
    def regression(self) -> bool:
        return self.task != CLASSIFICATION

    @property
    def window_text(self) -> str:
        """Which requests the charts read, and the cap on them, in a sentence."""
        if self.empty:
            return f"The dashboard reads at most the newest {self.cap:,} requests; none have been logged yet."
        span = f"from {_when(self.first_at)} to {_when(self.last_at)} UTC"
        read = f"{self.read:,} request{'s' if self.read != 1 else ''}"
        text = f"The charts read the newest {read} ({span}), in buckets of {self.bucket_text}. "
        if self.capped:
            text += f"The dashboard reads at most the newest {self.cap:,} requests: older ones are left out."
        else:
            text += f"That is every logged request; the dashboard reads at most the newest {self.cap:,} requests."
        if self.predictions_capped:
            text += (
                f" Predictions and accuracy come from the newest {self.prediction_cap:,} logged rows (a request "
                "logs up to 100 of its rows)."
            )
        return text

    @property
    def labels_text(self) -> str:
        """How many labels have arrived and how many are still on their way, in a sentence."""
        arrived = f"{self.labelled_rows:,} labelled row{'s' if self.labelled_rows != 1 else ''}"
        waiting = f"{self.waiting:,} request{'s' if self.waiting != 1 else ''}"
        if not self.labelled_rows and not self.waiting:
            return "No true labels have been logged for these requests, so there is no accuracy to show."
        text = f"True labels have arrived for {arrived}"
        if self.waiting:
            text += f"; those of {waiting} are still on their way (the label delay) and do not count yet"
        return text + "."


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment.astimezone(dt.UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S}"


def duration_text(seconds: int) -> str:
    """A bucket's width in words: "1 minute", "5 minutes", "10 seconds"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def chart_time(moment: dt.datetime) -> str:
    """A time as plotly's date axis reads it (it ignores time zones, so every time is written in UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _class_name(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value) if not isinstance(value, str) else value


def dashboard(
    *, deployment: Deployment, now: dt.datetime | None = None, limit: int = MAX_REQUESTS,
    reports: list[DriftReport] | None = None,
) -> Dashboard:  # fmt: skip
    """The dashboard's series over the newest `limit` requests, with `reports` (by default the newest
    REPORTS_MARKED drift reports) as markers where they fall within the requests' time span."""
    now = now or timezone.now()
    task = deployment_task(deployment)
    if reports is None:
        reports = drift_reports(deployment=deployment, limit=REPORTS_MARKED)
    window = window_find(deployment=deployment, limit=limit)
    if window is None:
        return _nothing(task, limit, reports)
    width = bucket_seconds(window.first, window.last)
    origin = int(window.first // width) * width
    buckets = int(window.last // width - window.first // width) + 1
    log = log_read(deployment=deployment, window=window, origin=origin, width=width, buckets=buckets, now=now)
    if log is None:  # the window's requests were deleted after it was found
        return _nothing(task, limit, reports)
    # One sort finds the versions and the roles they answered in: each request's version and role in one number.
    slots, slot_index = np.unique(log.slot, return_inverse=True)
    version_ids, slot_version = np.unique(slots // 4, return_inverse=True)
    version_index = slot_version.reshape(-1)[slot_index.reshape(-1)]
    versions_count = len(version_ids)
    size = versions_count * buckets
    group = version_index * buckets + log.bucket
    numbers = dict(ModelVersion.objects.filter(pk__in=version_ids.tolist()).order_by().values_list("pk", "number"))

    # Requests a minute: the bucket still running (it holds `now`) is divided by the time it has run so far.
    requests = np.bincount(group, minlength=size).reshape(versions_count, buckets)
    durations = np.full(buckets, float(width))
    elapsed = now.timestamp() - (origin + (buckets - 1) * width)
    if 0 < elapsed < width:
        durations[-1] = max(elapsed, 1.0)
    per_minute = requests / durations * 60
    p50, p95 = (q.reshape(versions_count, buckets) / 1000 for q in _quantiles(log.latency, group, size, (0.5, 0.95)))
    roles: list[list[str]] = [[] for _ in range(versions_count)]
    for slot, index in zip(slots.tolist(), slot_version.reshape(-1).tolist(), strict=True):
        roles[index].append(ROLES[slot % 4])

    quality = _quality(log, group, buckets, size, task)
    versions = []
    for index, version_id in enumerate(version_ids.tolist()):
        seen = np.flatnonzero(requests[index])
        rate = per_minute[index].copy()
        # Before its first request and after its last a version had no part in the traffic: a gap, not a zero.
        rate[: seen[0]] = np.nan
        rate[seen[-1] + 1 :] = np.nan
        span = slice(index * buckets, (index + 1) * buckets)
        versions.append(
            VersionSeries(
                version_id=version_id, number=numbers.get(version_id, 0), roles=tuple(roles[index]),
                requests=int(requests[index].sum()), errors=log.errors.get(version_id, 0), per_minute=_listed(rate),
                p50=_listed(p50[index]), p95=_listed(p95[index]), labelled=quality.labelled[span].astype(int).tolist(),
                accuracy=_listed(quality.accuracy[span]), f1=_listed(quality.f1[span]),
                error_mae=_listed(quality.mae[span]),
                shares={name: _listed(shares[span]) for name, shares in quality.shares.items()},
                mean=_listed(quality.mean[span]),
            )
        )  # fmt: skip
    versions.sort(key=lambda series: (min(ROLE_ORDER.get(role, 3) for role in series.roles), series.number))
    starts = [_utc(origin + n * width) for n in range(buckets)]
    end = _utc(origin + buckets * width)
    return Dashboard(
        task=task, read=len(log), cap=limit, capped=window.capped, predictions_capped=quality.capped,
        prediction_cap=MAX_PREDICTION_ROWS, bucket_seconds=width, starts=starts,
        centres=[chart_time(_utc(origin + (n + 0.5) * width)) for n in range(buckets)], versions=versions,
        classes=quality.classes, first_at=_utc(window.first), last_at=_utc(window.last),
        labelled_rows=quality.labelled_rows, waiting=log.waiting, markers=_markers(reports, starts[0], end),
        x_range=[chart_time(starts[0]), chart_time(end)],
    )  # fmt: skip


def _nothing(task: str, limit: int, reports: list[DriftReport]) -> Dashboard:
    """The dashboard of a deployment that has logged no request yet."""
    return Dashboard(
        task=task, read=0, cap=limit, capped=False, predictions_capped=False, prediction_cap=MAX_PREDICTION_ROWS,
        bucket_seconds=0, starts=[], centres=[], versions=[], classes=[], first_at=None, last_at=None,
        labelled_rows=0, waiting=0, markers=_markers(reports, None, None), x_range=[],
    )  # fmt: skip


@dataclass
class _Quality:
    classes: list[str]
    shares: dict[str, object]
    mean: object
    labelled: object
    accuracy: object
    f1: object
    mae: object
    labelled_rows: int
    capped: bool


@dataclass
class _Rows:
    """The window's logged rows, expanded from the requests: each predicted row's group and value (as an index
    into `values`), and each labelled row's group, predicted and true value."""

    values: list
    group: object
    value: object
    pair_group: object
    pair_guess: object
    pair_truth: object
    capped: bool


def _expanded(log: LogRead, group: object, buckets: int) -> _Rows:
    """Each distinct JSON text is decoded once, and its values get an index in one list of distinct values (1
    and 1.0 one value, as in Python's own equality). When every request logged one row, the rows are the
    requests and numpy maps them by their text's index; a request of several rows is expanded one by one."""
    cache: dict = {}
    index: dict = {}
    predicted = [_json(text, cache) for text in log.predictions]
    labelled = [_json(text, cache) for text in log.labels]

    def coded(values: object) -> list[int] | None:
        if not isinstance(values, list):
            return None
        return [index.setdefault(_hashable(value), len(index)) if value is not None else -1 for value in values]

    predicted_codes = [coded(values) for values in predicted]
    label_codes = [coded(values) for values in labelled]
    lengths = np.array([len(codes) if codes is not None else 0 for codes in predicted_codes], np.int64)
    rows = lengths[log.prediction_codes]
    # The newest buckets until their logged rows pass MAX_PREDICTION_ROWS (the newest bucket always).
    per_bucket = np.bincount(log.bucket, weights=rows, minlength=buckets)[::-1].cumsum()
    kept_buckets = int(np.searchsorted(per_bucket, MAX_PREDICTION_ROWS, side="left")) + 1
    capped = kept_buckets < buckets and per_bucket[-1] > MAX_PREDICTION_ROWS
    kept = log.bucket >= buckets - kept_buckets if capped else np.ones(len(log), bool)

    if bool((lengths == 1).all()) and all(codes is None or len(codes) == 1 for codes in label_codes):
        first = np.array([codes[0] for codes in predicted_codes], np.int64)
        truth_of = np.array([codes[0] if codes is not None else -1 for codes in label_codes], np.int64)
        value = first[log.prediction_codes[kept]]
        truth = truth_of[log.label_codes[kept]]
        where = group[kept]
        paired = (truth >= 0) & (value >= 0)
        return _Rows(
            list(index), where[value >= 0], value[value >= 0], where[paired], value[paired], truth[paired], capped
        )
    row_group, row_value, pair_group, pair_guess, pair_truth = [], [], [], [], []
    for at in np.flatnonzero(kept).tolist():
        guesses = predicted_codes[log.prediction_codes[at]]
        if guesses is None:
            continue
        where = int(group[at])
        row_group += [where] * len(guesses)
        row_value += guesses
        truths = label_codes[log.label_codes[at]]
        for guess, truth in zip(guesses, truths or (), strict=False):
            if guess >= 0 and truth >= 0:
                pair_group.append(where)
                pair_guess.append(guess)
                pair_truth.append(truth)
    row_group, row_value = np.array(row_group, np.int64), np.array(row_value, np.int64)
    present = row_value >= 0
    return _Rows(
        list(index), row_group[present], row_value[present], np.array(pair_group, np.int64),
        np.array(pair_guess, np.int64), np.array(pair_truth, np.int64), capped,
    )  # fmt: skip


def _quality(log: LogRead, group: object, buckets: int, size: int, task: str) -> _Quality:
    """Per group: the share of each predicted class (or the mean prediction), and over the rows whose label has
    arrived, accuracy and macro F1 (or the mean absolute error)."""
    nothing = np.full(size, np.nan)
    rows = _expanded(log, group, buckets)
    labelled = np.bincount(rows.pair_group, minlength=size).astype(float)
    labelled_rows = len(rows.pair_group)

    if task != CLASSIFICATION:
        numbers = np.array([_number_or_nan(value) for value in rows.values] + [np.nan], np.float64)
        values = numbers[rows.value]
        finite = np.isfinite(values)
        sums = np.bincount(rows.group[finite], weights=values[finite], minlength=size)
        sizes = np.bincount(rows.group[finite], minlength=size)
        mean = np.divide(sums, sizes, out=nothing.copy(), where=sizes > 0)
        error = np.abs(numbers[rows.pair_guess] - numbers[rows.pair_truth])
        both = np.isfinite(error)
        judged = np.bincount(rows.pair_group[both], minlength=size)
        total = np.bincount(rows.pair_group[both], weights=error[both], minlength=size)
        mae = np.divide(total, judged, out=nothing.copy(), where=judged > 0)
        return _Quality([], {}, mean, labelled, nothing, nothing, mae, labelled_rows, rows.capped)

    classes = max(len(rows.values), 1)
    names = [_class_name(value) for value in rows.values]
    per_class = np.bincount(rows.group * classes + rows.value, minlength=size * classes).reshape(size, classes)
    totals = per_class.sum(axis=1)
    frequency = per_class.sum(axis=0)
    shown = [code for code in np.argsort(-frequency, kind="stable").tolist() if frequency[code] > 0]
    shares: dict[str, object] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for code in shown[:MAX_CLASSES_SHOWN]:
            shares[names[code]] = np.where(totals > 0, per_class[:, code] / totals, np.nan)
        rest = shown[MAX_CLASSES_SHOWN:]
        if rest:
            shares[OTHER if OTHER not in shares else f"{OTHER} classes"] = np.where(
                totals > 0, per_class[:, rest].sum(axis=1) / totals, np.nan
            )
    accuracy, f1 = nothing.copy(), nothing.copy()
    if labelled_rows:
        hits = np.bincount(rows.pair_group, weights=rows.pair_guess == rows.pair_truth, minlength=size)
        accuracy = np.divide(hits, labelled, out=accuracy, where=labelled > 0)
        f1 = macro_f1(rows.pair_group, rows.pair_truth, rows.pair_guess, size, classes)
    return _Quality(
        [names[code] for code in shown], shares, nothing, labelled, accuracy, f1, nothing, labelled_rows, rows.capped
    )


def _number_or_nan(value: object) -> float:
    """A regression's prediction or label as a float; anything else (null, text, a list) as NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return np.nan
    return float(value)


def _hashable(value: object) -> object:
    """A prediction or label as a dict key: a list or dict (a multi-output row) as its JSON text."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


# --- drift reports, the timeline, what is running ----------------------------------------------------------


def drift_reports(*, deployment: Deployment, limit: int = REPORTS_SHOWN) -> list[DriftReport]:
    """The deployment's newest drift reports, any status, without their stored results (which hold every
    column's distributions: the dashboard shows only the verdict)."""
    return list(
        DriftReport.objects.filter(deployment=deployment)
        .order_by("-created_at", "-pk")
        .only(
            "pk", "status", "source", "trigger", "window", "current_rows", "window_end", "dataset_drift",
            "share_drifted", "drift_share", "error", "created_at", "finished_at", "deployment_id", "job_id",
        )[:limit]
    )  # fmt: skip


def report_time(report: DriftReport) -> dt.datetime:
    """Where a report's verdict sits on the time axis: the end of the window it read."""
    return report.window_end or report.finished_at or report.created_at


def _markers(reports: list[DriftReport], start: dt.datetime | None, end: dt.datetime | None) -> list[DriftMarker]:
    markers = []
    for report in reports:
        if report.status != DriftReport.Status.DONE or report.dataset_drift is None:
            continue
        at = report_time(report)
        if start is not None and not (start <= at <= end):
            continue
        share = report.share_drifted
        verdict = "drift detected" if report.dataset_drift else "no drift"
        shared = f": {share:.0%} of columns drifted" if share is not None else ""
        markers.append(
            DriftMarker(report.pk, at, bool(report.dataset_drift), share, f"Report #{report.pk}, {verdict}{shared}")
        )
    markers.sort(key=lambda marker: marker.at)
    return markers


def events_latest(*, deployment: Deployment, limit: int = EVENTS_SHOWN) -> list[MonitoringEvent]:
    return list(
        MonitoringEvent.objects.filter(deployment=deployment)
        .select_related("version")
        .order_by("-created_at", "-pk")[:limit]
    )


def alerts_open(*, deployment: Deployment) -> list[MonitoringEvent]:
    """Drift alerts nobody has acknowledged yet, newest first."""
    return list(
        MonitoringEvent.objects.filter(
            deployment=deployment, kind=MonitoringEvent.Kind.ALERT, acknowledged_at__isnull=True
        ).order_by("-created_at", "-pk")
    )


def alert_get(*, deployment: Deployment, event_id: int) -> MonitoringEvent:
    return get_object_or_404(MonitoringEvent, pk=event_id, deployment=deployment, kind=MonitoringEvent.Kind.ALERT)


@dataclass(frozen=True)
class Activity:
    """What is running for the deployment now; while anything is, the dashboard refreshes itself."""

    traffic: list[TrafficRun]
    reports: list[DriftReport]
    retraining: Job | None

    @property
    def active(self) -> bool:
        return bool(self.traffic or self.reports or self.retraining)


def activity(*, deployment: Deployment, reports: list[DriftReport]) -> Activity:
    """Traffic runs whose job is queued or running, drift reports still running (among `reports`, the newest),
    and the policy's retraining job while it is queued or running."""
    traffic = list(
        TrafficRun.objects.filter(deployment=deployment, job__status__in=Job.ACTIVE)
        .select_related("job")
        .order_by("-created_at", "-pk")
    )
    running = [report for report in reports if report.status == DriftReport.Status.PENDING]
    policy = (
        DriftPolicy.objects.filter(deployment=deployment, retrain_job__status__in=Job.ACTIVE)
        .select_related("retrain_job")
        .first()
    )
    return Activity(traffic=traffic, reports=running, retraining=policy.retrain_job if policy else None)
