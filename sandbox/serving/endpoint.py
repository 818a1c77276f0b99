"""The prediction endpoint, speaking MLflow's scoring protocol: `POST /serve/<endpoint>/invocations`,
`GET /serve/<endpoint>/ping` and `GET /serve/<endpoint>/version`.

Callers authenticate with `Authorization: Bearer <token>` (an `ApiToken`, looked up by its SHA-256) or, without
that header, with the site's session. No credentials, or a wrong or revoked token, is 401; an endpoint that is
not the caller's, or none at all, is 404. Every refusal is MLflow's JSON error body
(`{"error_code": …, "message": …}`) with a 4xx status, and a refused request adds nothing to the prediction log;
one refused once its token was accepted is kept as a `RefusedRequest` (the newest 50 per deployment).

The path is kept short because it is the one a load test hammers: one indexed query, compiled once, finds the
deployment and checks the token together (a second only on the way to a 401), the loaded models are kept per
process and reused while the deployment's `revision` is unchanged, a request of a few rows of plain numbers is
read and predicted without a frame (the quick lane), and the log rows are one insert. Under the ASGI
application a request with a token does not pass through Django's request cycle at all: sandbox.serving.lane
answers it through `answer_with_token` and has its log rows written in batches (sandbox.serving.request_log).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.limits import accepts_body
from sandbox.registry import artifacts
from sandbox.registry.models import ModelVersion
from sandbox.serving import request_log
from sandbox.serving.challenges import CANARY_PERCENT as CHALLENGE_CANARY_PERCENT
from sandbox.serving.models import ApiToken, Deployment, PredictionLog, RefusedRequest, Release, Strategy
from sandbox.serving.services import signature_of, token_hash

# numpy and pandas load with the first prediction this process answers, not when the site starts.
np = lazy_module("numpy")
sklearn = lazy_module("sklearn")
scoring = lazy_module("sandbox.ml.scoring")
row_predictor = lazy_module("sandbox.ml.row_predictor")

logger = logging.getLogger(__name__)

# As sandbox.ml.scoring.MAX_BODY_BYTES (a unit test holds them equal), here so that the URL table does not
# import pandas to know it.
MAX_BODY_BYTES = 10 * 1024 * 1024
# The MLflow release whose scoring server this endpoint answers like; `/version` answers it, as MLflow's does.
MLFLOW_VERSION = "3.17.2"
# A batch keeps at most this many of its rows (inputs and predictions) in the request log.
LOGGED_ROWS = 100

UNAUTHENTICATED = "UNAUTHENTICATED"
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
CONFLICT = "RESOURCE_CONFLICT"
BAD_REQUEST = "BAD_REQUEST"

BAD_TOKEN = "The API token is not valid: it was revoked, or never issued. Create one on your tokens page."
NO_CREDENTIALS = "Send `Authorization: Bearer <your API token>` (create a token on your tokens page), or sign in."
# What MLflow's server answers when the model itself raises (it does so with 400, too).
MODEL_FAILED = (
    "Encountered an unexpected error while evaluating the model. Verify that the input is compatible with the "
    "model's signature."
)

# Which request a canary answers: one draw per request. Tests seed it (`router.seed(…)`) for a fixed split.
router = random.Random()
# Stage 7's challenge counts requests a 20 % canary served; every this many such requests (per process) the
# owner's progress is refreshed, so the stage completes without a refresh on every prediction.
PROGRESS_EVERY = 10
_challenge_requests = itertools.count(1)


def error_response(status: int, code: str, message: str) -> HttpResponse:
    """MLflow's error body, `{"error_code": …, "message": …}`, as JSON with the given status."""
    body = json.dumps({"error_code": code, "message": message})
    response = HttpResponse(body, status=status, content_type="application/json")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="MLOps Lab"'
    return response


def _too_large(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return error_response(
        413, BAD_REQUEST,
        f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB and was not read; "
        "send the batch in smaller requests.",
    )  # fmt: skip


# --- what serves a deployment, kept per process ------------------------------------------------------------


@dataclass(frozen=True)
class Answerer:
    """One loaded version behind an endpoint, with its quick lane when it has one (see sandbox.ml.scoring's
    NumericReader and sandbox.ml.row_predictor): a request of a few rows of plain numbers is read into a
    matrix and predicted from it; any other request, or a pipeline the quick lane cannot reproduce, goes
    through the frame and the pipeline."""

    version_id: int
    number: int
    pipeline: Any
    signature: Any
    reader: Any = None
    quick: Any = None


@dataclass(frozen=True)
class Serving:
    """A deployment as one revision left it: its strategy and its loaded versions."""

    revision: int
    release_id: int
    strategy: str
    percent: int
    stable: Answerer
    candidate: Answerer | None
    refused_nulls: tuple[str, ...] = ()
    """Input columns a request may not leave empty (Deployment.refused_null_columns)."""
    added_latency_ms: int = 0
    """The release's added delay: an incident drill's latency fault (Release.added_latency_ms)."""


# (deployment id) -> what serves it; replaced when the deployment's row shows a newer revision.
_serving: dict[int, Serving] = {}
_lock = threading.Lock()


def serving_cache_clear() -> None:
    with _lock:
        _serving.clear()


def _answerer(version: ModelVersion) -> Answerer:
    pipeline = artifacts.model_load(version)
    signature = signature_of(version)
    quick = row_predictor.numeric_predictor(pipeline, signature.names)
    return Answerer(
        version_id=version.pk,
        number=version.number,
        pipeline=pipeline,
        signature=signature,
        reader=scoring.NumericReader.for_signature(signature) if quick is not None else None,
        quick=quick,
    )


@dataclass(frozen=True)
class DeploymentRow:
    """The deployment's columns the endpoint reads per request (one query, no model instance)."""

    pk: int
    owner_id: int
    status: str
    revision: int
    release_id: int | None
    strategy: str
    percent: int
    stable_id: int | None
    candidate_id: int | None


ROW_FIELDS = (
    "pk", "owner_id", "status", "revision", "current_release_id", "strategy", "canary_percent", "stable_version_id",
    "candidate_version_id",
)  # fmt: skip


def serving_for(row: DeploymentRow) -> Serving:
    """The loaded versions of the deployment at the row's revision: from this process's cache, or loaded
    (through the registry's SHA-256-checked loader) when the row shows a revision the cache has not seen."""
    cached = _serving.get(row.pk)
    if cached is not None and cached.revision == row.revision:
        return cached
    ids = [pk for pk in (row.stable_id, row.candidate_id) if pk is not None]
    versions = {version.pk: version for version in ModelVersion.objects.filter(pk__in=ids)}
    # Read only when the revision changes: both settings bump it (sandbox.serving.services).
    refused = Deployment.objects.filter(pk=row.pk).values_list("refused_null_columns", flat=True).first() or []
    added = Release.objects.filter(pk=row.release_id).values_list("added_latency_ms", flat=True).first() or 0
    serving = Serving(
        revision=row.revision,
        release_id=row.release_id,
        strategy=row.strategy,
        percent=row.percent,
        stable=_answerer(versions[row.stable_id]),
        candidate=_answerer(versions[row.candidate_id]) if row.candidate_id is not None else None,
        refused_nulls=tuple(refused),
        added_latency_ms=int(added),
    )
    with _lock:
        current = _serving.get(row.pk)
        if current is None or current.revision < serving.revision:
            _serving[row.pk] = serving
    return serving


# --- finding the caller's deployment -----------------------------------------------------------------------


class Refusal(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _row(values: tuple | None) -> DeploymentRow | None:
    return DeploymentRow(*values) if values is not None else None


# --- the lookup of every request, compiled by the ORM once per process ------------------------------------------
#
# Building a query's SQL costs the ORM about ten times what SQLite then takes to run it (0.6 ms against 60 µs
# for the lookup below), on every request. The lookup is written as an ordinary queryset; the ORM compiles it
# once per database connection's vendor, and each request runs that SQL with its own parameters through
# Django's cursor (which keeps query logging, wrappers and error translation). The log's INSERT is compiled
# the same way, in sandbox.serving.request_log.

_LOOKUP_NAME, _LOOKUP_DIGEST = "\x00endpoint", "\x00digest"


@functools.cache
def _lookup_sql(alias: str, vendor: str) -> tuple[str, tuple[int, int]]:
    """The SQL of the token-and-endpoint lookup, and where the endpoint's name and the token's digest go."""
    query = (
        Deployment.objects.using(alias)
        .filter(
            name=_LOOKUP_NAME,
            owner__api_tokens__token_hash=_LOOKUP_DIGEST,
            owner__api_tokens__revoked_at__isnull=True,
        )
        .order_by("pk")
        .values_list(*ROW_FIELDS)[:1]
        .query
    )
    sql, params = query.get_compiler(alias).as_sql()
    # Every other parameter the ORM might inline (the LIMIT) is in the SQL itself; only these two vary.
    if sorted(map(str, params)) != sorted([_LOOKUP_NAME, _LOOKUP_DIGEST]):
        raise RuntimeError(f"the lookup compiled to unexpected parameters: {params!r}")
    return sql, (params.index(_LOOKUP_NAME), params.index(_LOOKUP_DIGEST))


def _token_lookup(endpoint: str, digest: str) -> tuple | None:
    connection = connections[DEFAULT_DB_ALIAS]
    sql, (name_at, digest_at) = _lookup_sql(DEFAULT_DB_ALIAS, connection.vendor)
    params = [None, None]
    params[name_at], params[digest_at] = endpoint, digest
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def deployment_row(request: HttpRequest, endpoint: str) -> DeploymentRow:
    """The caller's live deployment called `endpoint`, or a `Refusal` carrying the 401, 404 or 409."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        return token_row(endpoint, header)
    user = request.user
    if not user.is_authenticated:
        raise Refusal(error_response(401, UNAUTHENTICATED, NO_CREDENTIALS))
    values = Deployment.objects.filter(name=endpoint, owner_id=user.pk).values_list(*ROW_FIELDS).first()
    return _live(_row(values), endpoint)


def token_row(endpoint: str, header: str) -> DeploymentRow:
    """The live deployment called `endpoint` of the owner of the bearer token in `header` (the Authorization
    header's value), or a `Refusal`."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refusal(
            error_response(401, UNAUTHENTICATED, "The Authorization header must read `Bearer <your API token>`.")
        )
    digest = token_hash(token)
    # The token and the deployment in one query: a row comes back only for the token owner's endpoint.
    values = _token_lookup(endpoint, digest)
    if values is None and not ApiToken.objects.filter(token_hash=digest, revoked_at__isnull=True).exists():
        raise Refusal(error_response(401, UNAUTHENTICATED, BAD_TOKEN))
    return _live(_row(values), endpoint)


def _live(row: DeploymentRow | None, endpoint: str) -> DeploymentRow:
    if row is None:
        raise Refusal(error_response(404, NOT_FOUND, f"You have no endpoint called {endpoint[:63]!r}."))
    if row.status != Deployment.Status.LIVE or row.stable_id is None:
        state = "still running." if row.status == Deployment.Status.PENDING else "failed; deploy a version again."
        raise Refusal(
            error_response(409, CONFLICT, f"Endpoint {endpoint!r} has no live release yet: its first deploy is {state}")
        )
    return row


def _serving_or_refusal(row: DeploymentRow) -> Serving:
    try:
        return serving_for(row)
    except artifacts.ModelFileRefused as refusal:
        raise Refusal(error_response(409, CONFLICT, refusal.message)) from None


# --- answering ---------------------------------------------------------------------------------------------


def _route(serving: Serving) -> tuple[Answerer, str, Answerer | None]:
    """Who answers (and in which role), and who answers a copy in the shadows."""
    canary = serving.strategy == Strategy.CANARY and serving.candidate is not None
    if canary and router.random() * 100 < serving.percent:
        return serving.candidate, PredictionLog.Role.CANARY, None
    if serving.strategy == Strategy.SHADOW:
        return serving.stable, PredictionLog.Role.STABLE, serving.candidate
    return serving.stable, PredictionLog.Role.STABLE, None


def _jsonable_rows(parsed: Any) -> list[dict]:
    """The first rows of the request as JSON records (numpy values as Python's, a missing value as null)."""
    if answered_quickly(parsed):
        return parsed.records(LOGGED_ROWS)
    head = parsed.frame.iloc[:LOGGED_ROWS]
    columns = {}
    for name in head.columns:
        values = head[name].tolist()
        columns[name] = [None if value is None or value != value else value for value in values]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _logged_predictions(predictions: Any) -> list:
    return scoring.jsonable_predictions(predictions[:LOGGED_ROWS])


def _empty_refused_columns(serving: Serving, parsed: Any) -> list[str]:
    """The refused-when-empty columns that some row of the request leaves empty. The quick lane reads only
    requests without a missing value, so only a frame can have one."""
    if not serving.refused_nulls or answered_quickly(parsed):
        return []
    frame = parsed.frame
    return [name for name in serving.refused_nulls if name in frame.columns and bool(frame[name].isna().any())]


def answered_quickly(parsed: Any) -> bool:
    return isinstance(parsed, scoring.NumericInput)


def _parse(answerer: Answerer, body: bytes, content_type: str | None) -> Any:
    """The request read by the answerer's quick lane, or else by `parse_request` (which may refuse it)."""
    if answerer.reader is not None:
        quick = answerer.reader.read(body, content_type)
        if quick is not None:
            return quick
    return scoring.parse_request(body, content_type, answerer.signature)


def _predict(answerer: Answerer, parsed: Any) -> Any:
    if answered_quickly(parsed) and answerer.quick is not None:
        return answerer.quick.predict(parsed.matrix)
    # The scoring protocol has refused infinities, and NaN outside optional columns, so scikit-learn's own
    # finiteness checks (about 1.2 ms of a one-row prediction's 4 ms here) would only repeat them.
    with sklearn.config_context(assume_finite=True):
        return np.asarray(answerer.pipeline.predict(parsed.frame))


@dataclass
class Answer:
    response: HttpResponse
    version_number: int | None = None
    role: str = ""


def invoke(
    row: DeploymentRow, body: bytes, content_type: str | None, started: float, *, log: Callable = request_log.write
) -> Answer:
    """Score one request against the deployment: parse it as MLflow does, route it, predict, log (through `log`,
    at once unless told otherwise), answer."""
    serving = _serving_or_refusal(row)
    answerer, role, shadow = _route(serving)
    try:
        parsed = _parse(answerer, body, content_type)
    except scoring.ScoringError as error:
        return _refused(row, answerer, body, content_type, error.status, error.error_code, error.message)
    empty = _empty_refused_columns(serving, parsed)
    if empty:
        message = (
            f"This endpoint refuses requests whose {', '.join(map(repr, empty))} is empty (null), because that "
            "column is known to arrive broken; fix it upstream and send the request again."
        )
        return _refused(row, answerer, body, content_type, 400, BAD_REQUEST, message)
    if serving.added_latency_ms:
        time.sleep(serving.added_latency_ms / 1000)
    try:
        predictions = _predict(answerer, parsed)
    except Exception:
        logger.exception("version %s of deployment %s failed to predict", answerer.version_id, row.pk)
        return _refused(row, answerer, body, content_type, 400, BAD_REQUEST, MODEL_FAILED)
    payload = scoring.format_predictions(predictions)
    request_id = uuid.uuid4().hex
    latency = (time.perf_counter() - started) * 1000
    inputs = _jsonable_rows(parsed)
    rows = len(parsed)
    answered = {
        "deployment_id": row.pk, "release_id": serving.release_id, "version_id": answerer.version_id,
        "request_id": request_id, "role": role, "latency_ms": latency, "row_count": rows, "inputs": inputs,
        "predictions": _logged_predictions(predictions), "created_at": timezone.now(),
    }  # fmt: skip
    logs = [answered]
    if shadow is not None:
        logs.append(_shadow_log(row, serving, shadow, parsed, body, content_type, request_id, inputs))
    try:
        log(logs)
    except Exception:
        # The caller still gets the prediction; the log is the site's record, not part of the answer.
        logger.exception("could not log a prediction of deployment %s", row.pk)
    if serving.strategy == Strategy.CANARY and serving.percent == CHALLENGE_CANARY_PERCENT:
        _challenge_progress(row.owner_id)
    response = HttpResponse(payload, content_type="application/json")
    response["X-Model-Version"] = str(answerer.number)
    response["X-Request-Id"] = request_id
    return Answer(response, answerer.number, role)


_refusals_kept = itertools.count(1)
PRUNE_EVERY = 10
"""Refused requests beyond a deployment's newest RefusedRequest.KEPT are deleted every this many refusals."""


def _refused(
    row: DeploymentRow, answerer: object, body: bytes, content_type: str | None, status: int, code: str, message: str
) -> Answer:
    """MLflow's error answer, and the request kept beside it for the learner's log (a failure to keep it never
    changes the answer)."""
    try:
        RefusedRequest.objects.create(
            deployment_id=row.pk, version_id=answerer.version_id, status=status, error_code=code, message=message,
            content_type=(content_type or "")[:100], body=body[: RefusedRequest.BODY_KEPT].decode("utf-8", "replace"),
            body_bytes=len(body),
        )  # fmt: skip
        if next(_refusals_kept) % PRUNE_EVERY == 0:
            old = RefusedRequest.objects.filter(deployment_id=row.pk).order_by("-id")[RefusedRequest.KEPT :]
            RefusedRequest.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:1000])).delete()
    except Exception:
        logger.exception("could not keep a refused request of deployment %s", row.pk)
    return Answer(error_response(status, code, message), answerer.number)


def _challenge_progress(owner_id: int) -> None:
    if next(_challenge_requests) % PROGRESS_EVERY:
        return
    try:
        progress_refresh(user=User.objects.get(pk=owner_id))
    except Exception:
        logger.exception("could not refresh the progress of learner %s", owner_id)


def _shadow_log(
    row: DeploymentRow, serving: Serving, shadow: Answerer, parsed: Any, body: bytes, content_type: str | None,
    request_id: str, inputs: list[dict],
) -> PredictionLog:  # fmt: skip
    """The shadow's answer to a copy of the request, for the log only: its failure never reaches the caller."""
    started = time.perf_counter()
    status, error, predictions = PredictionLog.Status.OK, "", []
    try:
        if shadow.signature != serving.stable.signature:
            parsed = _parse(shadow, body, content_type)
        predictions = _logged_predictions(_predict(shadow, parsed))
    except scoring.ScoringError as refused:
        status, error = PredictionLog.Status.ERROR, refused.message
    except Exception as exc:
        status, error = PredictionLog.Status.ERROR, f"{type(exc).__name__}: {exc}"
    return {
        "deployment_id": row.pk, "release_id": serving.release_id, "version_id": shadow.version_id,
        "request_id": request_id, "role": PredictionLog.Role.SHADOW, "status": status,
        "latency_ms": (time.perf_counter() - started) * 1000, "row_count": len(parsed), "inputs": inputs,
        "predictions": predictions, "error": error[:2000], "created_at": timezone.now(),
    }  # fmt: skip


# --- the views ---------------------------------------------------------------------------------------------


def _method_not_allowed(allowed: str) -> HttpResponse:
    response = error_response(405, BAD_REQUEST, f"Use {allowed} here.")
    response["Allow"] = allowed
    return response


@csrf_exempt
@accepts_body(MAX_BODY_BYTES, message="The request body is larger than 10 MB and was not read.", too_large=_too_large)
def invocations(request: HttpRequest, endpoint: str) -> HttpResponse:
    started = time.perf_counter()
    if request.method != "POST":
        return _method_not_allowed("POST")
    try:
        row = deployment_row(request, endpoint)
        # Bounded even when no Content-Length was declared: one byte past the limit is enough to refuse.
        body = request.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return _too_large(request)
        return invoke(row, body, request.META.get("CONTENT_TYPE"), started).response
    except Refusal as refusal:
        return refusal.response


def answer_with_token(
    endpoint: str, header: str, body: bytes, content_type: str | None, started: float, *, log: Callable | None = None
) -> HttpResponse:
    """What `invocations` answers a POST carrying `Authorization: <header>` and `body` (already read and within
    MAX_BODY_BYTES), for sandbox.serving.lane, which serves such requests without Django's request cycle, and for
    the traffic simulator (sandbox.monitoring.traffic), which sends its requests the same way and passes a `log`
    that writes the rows at once with the true labels it will reveal later."""
    try:
        return invoke(
            token_row(endpoint, header), body, content_type, started, log=log or request_log.batched.add
        ).response
    except Refusal as refusal:
        return refusal.response


@csrf_exempt
def ping(request: HttpRequest, endpoint: str) -> HttpResponse:
    """Healthy when the endpoint's versions load (which warms them): 200 with MLflow's body, a newline."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET")
    try:
        _serving_or_refusal(deployment_row(request, endpoint))
    except Refusal as refusal:
        return refusal.response
    return HttpResponse("\n", content_type="application/json")


@csrf_exempt
def version(request: HttpRequest, endpoint: str) -> HttpResponse:
    """MLflow's `/version` answers the bare version string of the MLflow that serves; so does this, naming the
    MLflow whose protocol it speaks. `X-Model-Version` says which model version serves the stable traffic."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET")
    try:
        serving = _serving_or_refusal(deployment_row(request, endpoint))
    except Refusal as refusal:
        return refusal.response
    response = HttpResponse(MLFLOW_VERSION, content_type="application/json")
    response["X-Model-Version"] = str(serving.stable.number)
    return response


@csrf_exempt
def not_found(request: HttpRequest, path: str) -> HttpResponse:
    return error_response(
        404, "ENDPOINT_NOT_FOUND",
        "Nothing answers here. An endpoint answers POST /serve/<endpoint>/invocations, GET /serve/<endpoint>/ping, "
        "GET /serve/<endpoint>/version and GET /serve/<endpoint>/metrics (Prometheus).",
    )  # fmt: skip
