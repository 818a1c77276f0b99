"""The endpoint's own lane through the ASGI application: `POST /serve/<endpoint>/invocations` with a bearer token,
answered without Django's request cycle.

A prediction is a fraction of a millisecond of work, and Django's cycle around it — building the request,
resolving the URL (twice: the body limit asks too), eleven middleware hooks that a JSON API with a bearer token
has no use for (sessions, CSRF, messages, htmx, compression), the response conversion — cost about four times
that. This lane answers those requests itself and hands every other request, unchanged, to the application it
wraps:

- It answers through `sandbox.serving.endpoint.answer_with_token`, the same code the Django view runs for a
  token, so what is accepted, refused, predicted and logged is the same; a test sends both the same requests.
- It keeps what the cycle does that such a request needs: `request_started` and `request_finished` (which
  close a database connection past its age, or broken), the body limit (413 before reading a larger declared
  body, and cut off past it), the database-busy 503, the headers the middleware puts on every answer, and a
  500 with MLflow's error body for anything unforeseen, logged as Django logs it.
- It leaves to Django what it would answer differently: no Authorization header (the session's caller), a
  Host outside ALLOWED_HOSTS (400), plain HTTP where SECURE_SSL_REDIRECT wants HTTPS (the redirect).

The synchronous part runs on asgiref's one thread for thread-sensitive code, as sync views do under
mlopslab.asgi, so it shares that thread's database connection.
"""

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host

from mlopslab.database import RETRY_AFTER_SECONDS, database_locked
from mlopslab.headers import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from sandbox.serving import endpoint

logger = logging.getLogger("django.request")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# As the URL pattern `serve/<str:endpoint>/invocations` reads it.
INVOCATIONS = re.compile(r"^/serve/(?P<endpoint>[^/]+)/invocations$")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # A repeated header keeps its first value; the lane reads only headers a client sends once.
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name, value)
    return found


def _secure(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Whether Django's request.is_secure() would say so: the scheme, or the proxy's header when trusted."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, expected = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        value = headers.get(header)
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == expected
    return scope.get("scheme") == "https"


def _host_allowed(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Whether Django's request.get_host() would accept the request's host."""
    raw = headers.get(b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    raw = raw or headers.get(b"host")
    if raw is None:
        server = scope.get("server")
        if not server:
            return False
        raw = f"{server[0]}:{server[1]}".encode("latin-1")
    domain, _ = split_domain_port(raw.decode("latin-1"))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def policy_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers Django's middleware (security, browser policies, frame options) puts on a JSON answer."""
    headers = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
    headers.append(("Permissions-Policy", PERMISSIONS_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return headers


_BUSY = "The database is busy; nothing was logged or predicted. Try again in a moment."


def _answer(
    scope: Scope, endpoint_name: str, header: str, body: bytes, content_type: str | None, started: float
) -> HttpResponse:
    """Run on the thread-sensitive thread: the request's signals around the endpoint's answer."""
    signals.request_started.send(sender=__name__, scope=scope)
    try:
        return endpoint.answer_with_token(endpoint_name, header, body, content_type, started)
    except Exception as exc:
        if database_locked(exc):
            logger.warning("Refused POST %s with 503: %s", scope["path"], exc)
            response = endpoint.error_response(503, "TEMPORARILY_UNAVAILABLE", _BUSY)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        logger.exception("Internal Server Error: %s", scope["path"])
        return endpoint.error_response(500, "INTERNAL_ERROR", "The server failed to answer; the error is logged.")
    finally:
        signals.request_finished.send(sender=__name__)


class _Unread(Exception):
    """The body was not read to its end: the client left, or it passed the limit (`too_large`)."""

    def __init__(self, *, too_large: bool) -> None:
        self.too_large = too_large


async def _body(receive: Receive, limit: int) -> bytes:
    """The whole body; `_Unread` when the client leaves or the body passes `limit` (then it is not read on)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Unread(too_large=False)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Unread(too_large=True)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, response: HttpResponse, secure: bool) -> None:
    content = response.content
    headers = [(b"content-type", response["Content-Type"].encode("latin-1"))]
    headers.append((b"content-length", str(len(content)).encode("latin-1")))
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    for name, value in policy_headers(secure):
        if name not in response:
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def serving_lane(app: ASGIApp) -> ASGIApp:
    """`app` with token-authenticated predictions answered by this lane (see the module's docstring)."""
    answer = sync_to_async(_answer, thread_sensitive=True)

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await app(scope, receive, send)
            return
        match = INVOCATIONS.match(scope["path"])
        if match is None:
            await app(scope, receive, send)
            return
        headers = _headers(scope)
        authorization = headers.get(b"authorization")
        secure = _secure(scope, headers)
        if authorization is None or not _host_allowed(scope, headers) or (settings.SECURE_SSL_REDIRECT and not secure):
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        limit = endpoint.MAX_BODY_BYTES
        declared = headers.get(b"content-length")
        try:
            too_large = declared is not None and int(declared) > limit
        except ValueError:
            # Django (through mlopslab.limits) answers a Content-Length that is not a number.
            await app(scope, receive, send)
            return
        try:
            if too_large:
                raise _Unread(too_large=True)
            body = await _body(receive, limit)
        except _Unread as unread:
            if unread.too_large:
                await _send(send, endpoint._too_large(None), secure)
            return
        content_type = headers.get(b"content-type")
        response = await answer(
            scope,
            match["endpoint"],
            authorization.decode("latin-1"),
            body,
            content_type.decode("latin-1") if content_type is not None else None,
            started,
        )
        await _send(send, response, secure)

    return lane
