"""How large a request body may be, refused before anything reads it.

Django's CSRF middleware reads `request.POST` before any view runs, and the multipart parser writes
every uploaded file to the temporary folder whatever its size, so a view's own size check comes too
late. A view that takes more than `DATA_UPLOAD_MAX_MEMORY_SIZE` says so with `@accepts_body(...)`, and
three guards hold every request to its view's limit:

- `RequestSizeMiddleware`, first in MIDDLEWARE, refuses a larger Content-Length in `process_view`, which
  runs before the CSRF middleware's; the view may name the page to answer with (`too_large`).
- `limit_asgi_bodies` wraps the ASGI application: an ASGI server hands Django the body before any
  middleware runs, so it hides an oversized declared body from Django (the middleware then refuses it
  from its Content-Length) and cuts off a body sent without one once it passes the limit.
- `BoundedUploadHandler` stops the multipart parser once the files in a request pass the limit,
  whatever a server let through.
"""

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from mlopslab.refusals import Refused, refusal_response

logger = logging.getLogger(__name__)

# A view answering an oversized request itself returns its page, or None to leave it to the refusal.
TooLargeView = Callable[..., HttpResponse | None]


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    message: str
    too_large: TooLargeView | None = None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def default_limit() -> BodyLimit:
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if size is None:
        # Django's own cap switched off: nothing smaller than Python's largest size is claimed here either.
        size = 2**63
    return BodyLimit(size, f"The request is larger than {_megabytes(size)}; nothing was saved.")


def accepts_body(max_bytes: int, *, message: str, too_large: TooLargeView | None = None) -> Callable:
    """Let a view take request bodies up to `max_bytes`; a larger one is refused with `message` (413).

    `too_large(request, *args, **kwargs)` may return the page to answer with instead, e.g. the form's
    page with the message on it; it runs before the body is read, so it must not read it either.
    """

    def decorate(view: Callable) -> Callable:
        view.body_limit = BodyLimit(max_bytes, message, too_large)
        return view

    return decorate


def limit_for_view(view: Callable | None) -> BodyLimit:
    return getattr(view, "body_limit", None) or default_limit()


def limit_for_path(path_info: str) -> BodyLimit:
    try:
        return limit_for_view(resolve(path_info).func)
    except Resolver404:
        return default_limit()


def declared_length(value: str | bytes | None) -> int | None:
    """The Content-Length as a number; None when absent, ValueError when it is not a whole number."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if not text.strip():
        return None
    length = int(text)
    if length < 0:
        raise ValueError(text)
    return length


class RequestSizeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable, view_args: tuple, view_kwargs: dict
    ) -> HttpResponse | None:
        try:
            length = declared_length(request.META.get("CONTENT_LENGTH"))
        except ValueError:
            return refusal_response(request, Refused("The request's Content-Length is not a number.", status=400))
        limit = limit_for_view(view)
        if length is None or length <= limit.max_bytes:
            return None
        logger.info("Refused %s %s: Content-Length %d over %d", request.method, request.path, length, limit.max_bytes)
        if limit.too_large is not None:
            response = limit.too_large(request, *view_args, **view_kwargs)
            if response is not None:
                return response
        return refusal_response(request, Refused(limit.message, status=413))


class BoundedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: stops the upload once its files pass the view's limit, before the
    handlers after it write another byte."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        match = getattr(request, "resolver_match", None)
        self.limit = limit_for_view(match.func if match else None)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit.max_bytes:
            logger.warning(
                "Stopped an upload past %d bytes: %s", self.limit.max_bytes, getattr(self.request, "path", "")
            )
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", []) if key.lower() == name), None)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def limit_asgi_bodies(app: ASGIApp) -> ASGIApp:
    """Wrap Django's ASGI application so that no oversized body reaches it (see the module's docstring)."""

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        limit = limit_for_path(path[len(root) :] if root and path.startswith(root) else path)
        try:
            length = declared_length(_header(scope, b"content-length"))
        except ValueError:
            await _plain(send, 400, "The request's Content-Length is not a number.")
            return
        if length is not None and length > limit.max_bytes:
            await app(scope, _without_body(receive), send)
            return
        if length is None:
            await _counting(app, scope, receive, send, limit)
            return
        await app(scope, receive, send)

    return limited


def _without_body(receive: Receive) -> Receive:
    """An empty body for Django, whose middleware refuses the request from its Content-Length.

    After the body Django listens for the client leaving; what the client still sends is dropped unread
    by this stand-in, which passes only that disconnect on.
    """
    given = False

    async def empty() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return message

    return empty


async def _counting(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: BodyLimit) -> None:
    """Pass a body without a Content-Length on while it stays within the limit; past it, tell Django the
    client left (it then drops what it spooled and answers nothing) and answer 413 here."""
    received = 0
    cut_off = False
    started = False

    async def counted() -> Message:
        nonlocal received, cut_off
        if cut_off:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit.max_bytes:
                cut_off = True
                return {"type": "http.disconnect"}
        return message

    async def watched(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    await app(scope, counted, watched)
    if cut_off and not started:
        await _plain(send, 413, limit.message)
