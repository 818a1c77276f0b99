"""The endpoint's ASGI lane (sandbox.serving.lane) answers as the Django view does: the same requests sent to
the production ASGI application and through Django's test client get the same status, body and headers, log
the same rows, and what the lane does not serve reaches Django unchanged."""

import asyncio
import json
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections
from django.test import Client

from mlopslab import asgi
from sandbox.models import Deployment, ModelVersion, PredictionLog
from sandbox.serving import lane, request_log
from tests.unit import test_serving_endpoint as view_tests
from tests.unit import test_serving_setup as setup
from tests.unit.test_serving_setup import bearer, invoke, rows, split_body

cancer, jobs_now, live, token, v1, v2 = setup.cancer, setup.jobs_now, setup.live, setup.token, setup.v1, setup.v2

pytestmark = pytest.mark.django_db
URL = "/serve/cancer-api/invocations"


@pytest.fixture(autouse=True)
def log_written_by_the_test() -> Iterator[request_log.BatchedLog]:
    """The lane's batched log, flushed by the test itself in its own transaction (its thread never wakes)."""
    batched = request_log.BatchedLog(every=3600)
    original, request_log.batched = request_log.batched, batched
    yield batched
    request_log.batched = original
    # Rows a test left unwritten would be written at exit, into a test database that is gone by then.
    batched._waiting.clear()


class Answer:
    def __init__(self, messages: list[dict]) -> None:
        start, *bodies = messages
        self.status_code = start["status"]
        self.headers = {name.decode(): value.decode() for name, value in start["headers"]}
        self.content = b"".join(message.get("body", b"") for message in bodies)

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


def asgi_post(
    path: str, body: bytes, *, headers: dict[str, str], chunks: int = 1, declare_length: bool = True
) -> Answer:
    """POST through the production ASGI application, the body in `chunks` messages, as uvicorn would."""
    sent: list[dict] = []
    given = 0
    size = max(1, -(-len(body) // chunks))
    parts = [body[at : at + size] for at in range(0, len(body), size)] or [b""]
    raw = [(b"host", b"127.0.0.1")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if declare_length:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip

    async def receive() -> dict:
        nonlocal given
        if given < len(parts):
            given += 1
            return {"type": "http.request", "body": parts[given - 1], "more_body": given < len(parts)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def call() -> None:
        await asgi.application(scope, receive, send)

    # From the test's thread, so that the lane's synchronous part runs here, in the test's transaction; as
    # Django's test client does, the request's signals leave the test's connection open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(call)()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return Answer(sent)


def lane_post(body: bytes, token: str, content_type: str | None = "application/json", **options: object) -> Answer:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return asgi_post(URL, body, headers=headers, **options)


COMPARED_HEADERS = (
    "Content-Type", "X-Model-Version", "WWW-Authenticate", "X-Content-Type-Options", "Referrer-Policy",
    "Cross-Origin-Opener-Policy", "Content-Security-Policy", "Permissions-Policy", "X-Frame-Options",
)  # fmt: skip


def _same(lane: Answer, view: object) -> None:
    assert lane.status_code == view.status_code, lane.content[:300]
    assert json.loads(lane.content) == json.loads(view.content)
    for name in COMPARED_HEADERS:
        assert lane.headers.get(name.lower()) == view.headers.get(name), name


def test_the_lane_answers_every_form_and_every_bad_input_as_the_view_does(
    live: Deployment, v1: ModelVersion, token: str, log_written_by_the_test: request_log.BatchedLog
) -> None:
    names, data = rows(v1, 3)
    records = [dict(zip(names, row, strict=True)) for row in data]
    good = {
        "dataframe_split": (json.dumps({"dataframe_split": {"columns": names, "data": data}}).encode(), None),
        "dataframe_records": (json.dumps({"dataframe_records": records}).encode(), None),
        "instances": (json.dumps({"instances": records}).encode(), None),
        "inputs": (json.dumps({"inputs": {n: [r[i] for r in data] for i, n in enumerate(names)}}).encode(), None),
        "csv": ((",".join(names) + "\n" + "\n".join(",".join(map(repr, r)) for r in data)).encode(), "text/csv"),
    }
    for name, (body, content_type) in good.items():
        content_type = content_type or "application/json"
        lane, view = lane_post(body, token, content_type), invoke(Client(), "cancer-api", body, token, content_type)
        assert lane.status_code == 200, (name, lane.content[:300])
        _same(lane, view)
    for name, (body, content_type, status) in view_tests._bad_inputs(v1).items():
        lane = lane_post(body, token, content_type or None)
        view = Client().post(URL, data=body, content_type=content_type, **bearer(token))
        assert lane.status_code == status, name
        _same(lane, view)
    # The view wrote its five rows at once; the lane's five wait for the flush, which writes them together.
    assert PredictionLog.objects.count() == 5
    assert log_written_by_the_test.waiting() == 5
    assert log_written_by_the_test.flush() == 5
    logged = PredictionLog.objects.order_by("pk").values_list("inputs", "predictions", "row_count", "version_id")
    view_rows, lane_rows = list(logged)[:5], list(logged)[5:]
    assert sorted(map(str, view_rows)) == sorted(map(str, lane_rows))


def test_credentials_and_unknown_endpoints_are_refused_as_the_view_refuses_them(
    live: Deployment, v1: ModelVersion, token: str
) -> None:
    body = split_body(v1)
    for header in ("Bearer mlt_not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
        lane = asgi_post(URL, body, headers={"Authorization": header, "Content-Type": "application/json"})
        view = Client().post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=header)
        assert lane.status_code == 401
        _same(lane, view)
    path = "/serve/nobody/invocations"
    lane = asgi_post(path, body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    view = Client().post(path, data=body, content_type="application/json", **bearer(token))
    assert lane.status_code == 404
    _same(lane, view)


def test_a_body_over_the_limit_is_refused_with_413_declared_or_not(live: Deployment, token: str) -> None:
    body = b"x" * (10 * 1024 * 1024 + 1)
    declared = lane_post(body, token)
    streamed = lane_post(body, token, chunks=20, declare_length=False)
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert json.loads(answer.content)["error_code"] == "BAD_REQUEST"
    assert not PredictionLog.objects.exists()


def test_what_the_lane_does_not_serve_reaches_django(
    live: Deployment, v1: ModelVersion, token: str, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = split_body(v1)
    # No Authorization header: the session's caller, whom Django authenticates (here nobody: the view's 401).
    answer = asgi_post(URL, body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    assert "sign in" in json.loads(answer.content)["message"]

    reached: list[str] = []

    async def django(scope: dict, receive: object, send: object) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    monkeypatch.setattr(asgi, "application", lane.serving_lane(django))
    with_token = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert asgi_post(URL, body, headers=with_token).status_code == 200
    assert asgi_post("/serve/cancer-api/ping", b"", headers=with_token).status_code == 299
    assert asgi_post(URL, body, headers={"Content-Type": "application/json"}).status_code == 299
    assert (
        asgi_post(URL, body, headers={**with_token, "Content-Length": "ten"}, declare_length=False).status_code == 299
    )
    # A host Django does not serve gets Django's 400, not a prediction.
    settings.ALLOWED_HOSTS = ["lab.example"]
    assert asgi_post(URL, body, headers=with_token).status_code == 299
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    # Plain HTTP where HTTPS is required gets Django's redirect; HTTPS behind a trusted proxy is served.
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    assert asgi_post(URL, body, headers=with_token).status_code == 299
    secure = asgi_post(URL, body, headers={**with_token, "X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
    assert len(reached) == 5


def test_a_batch_the_database_refuses_waits_for_the_next_flush(
    live: Deployment, v1: ModelVersion, token: str, log_written_by_the_test: request_log.BatchedLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert lane_post(split_body(v1), token).status_code == 200

    def refuse(logs: object) -> None:
        raise RuntimeError("the database went away")

    real = request_log.write
    monkeypatch.setattr(request_log, "write", refuse)
    assert log_written_by_the_test.flush() == 0
    assert log_written_by_the_test.waiting() == 1
    monkeypatch.setattr(request_log, "write", real)
    assert log_written_by_the_test.flush() == 1
    assert PredictionLog.objects.get().version_id == v1.pk


def test_waiting_rows_are_bounded_and_the_oldest_dropped() -> None:
    batched = request_log.BatchedLog(every=3600, most=3)
    batched.add([{"request_id": str(at)} for at in range(5)])
    assert batched.waiting() == 3
    assert batched.dropped == 2
    assert [log["request_id"] for log in batched._waiting] == ["2", "3", "4"]
    batched._waiting.clear()
