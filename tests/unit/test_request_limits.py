"""Oversized request bodies are refused before anything reads them, under WSGI and ASGI alike.

The WSGI tests go through Django's whole middleware stack with CSRF checks on, as a browser's request
does, and count the bytes read from the request's input; the ASGI tests drive the wrapper in
mlopslab/asgi.py with hand-made ASGI messages.
"""

import asyncio
import io
from collections.abc import Iterator
from json import loads

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from django.test.client import ClientHandler
from django.urls import reverse

from mlopslab.limits import BoundedUploadHandler, limit_asgi_bodies
from sandbox.datasets.models import Dataset

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
BOUNDARY = "lab-boundary"
CSRF = "a" * 32
FILE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
).encode()


class EndlessUpload(io.RawIOBase):
    """A multipart body with a token field, then one file part that goes on for `size` bytes; counts reads."""

    def __init__(self, size: int, token: str = CSRF) -> None:
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        ).encode() + FILE_PART
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        if self.read_bytes >= self.size:
            return 0
        count = min(len(buffer), self.size - self.read_bytes)
        start = self.read_bytes
        chunk = (self.head[start : start + count] if start < len(self.head) else b"") or b""
        chunk += b"x" * (count - len(chunk))
        buffer[:count] = chunk
        self.read_bytes += count
        return count


def _post(path: str, body: EndlessUpload, *, declared: int, cookies: dict[str, str], **headers: str) -> object:
    """POST through the whole middleware stack, CSRF checks on, as a browser's request would go."""
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(declared),
        HTTP_COOKIE="; ".join(f"{k}={v}" for k, v in cookies.items()),
        **headers,
    )
    environ["wsgi.input"] = io.BufferedReader(body)
    return ClientHandler(enforce_csrf_checks=True)(environ)


def _signed_in(learner: User) -> tuple[Client, dict[str, str]]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    client.get(reverse("sandbox:datasets"))
    return client, {name: morsel.value for name, morsel in client.cookies.items()}


def test_an_anonymous_5_gb_upload_is_refused_without_reading_a_byte() -> None:
    body = EndlessUpload(50 * MB)
    response = _post(
        reverse("sandbox:dataset_create", args=["upload"]), body, declared=5 * 1024 * MB, cookies={"csrftoken": CSRF}
    )
    assert response.status_code == 413
    assert "The upload is larger than 10 MB; nothing was saved." in response.content.decode()
    assert body.read_bytes == 0


def test_a_learners_oversized_upload_gets_the_datasets_page_with_the_message(learner: User) -> None:
    _, cookies = _signed_in(learner)
    body = EndlessUpload(11 * MB, token=cookies["csrftoken"])
    response = _post(reverse("sandbox:dataset_create", args=["upload"]), body, declared=11 * MB, cookies=cookies)
    assert response.status_code == 413
    html = response.content.decode()
    assert "The upload is larger than 10 MB; nothing was saved." in html
    assert 'action="/sandbox/datasets/new/upload/"' in html
    assert body.read_bytes == 0
    assert not Dataset.objects.exists()


def test_a_new_versions_oversized_upload_gets_the_dataset_page_with_the_message(learner: User) -> None:
    dataset = Dataset.objects.create(owner=learner, name="mine", source=Dataset.Source.UPLOAD, target="y")
    _, cookies = _signed_in(learner)
    body = EndlessUpload(20 * MB, token=cookies["csrftoken"])
    path = reverse("sandbox:dataset_version_add", args=[dataset.pk])
    response = _post(path, body, declared=20 * MB, cookies=cookies)
    assert response.status_code == 413
    html = response.content.decode()
    assert "The upload is larger than 10 MB; nothing was saved." in html
    assert "mine" in html
    assert body.read_bytes == 0


def test_an_upload_within_the_limit_still_reaches_the_form(learner: User) -> None:
    client = Client()
    client.force_login(learner)
    csv = io.BytesIO(b"a,y\n1,0\n2,1\n3,0\n4,1\n")
    csv.name = "small.csv"
    response = client.post(
        reverse("sandbox:dataset_create", args=["upload"]), {"name": "small", "target": "y", "file": csv}
    )
    assert response.status_code in {302, 422}
    assert b"larger than 10 MB" not in response.content


def test_other_pages_take_no_more_than_djangos_own_cap(settings: object) -> None:
    body = EndlessUpload(3 * MB)
    response = _post(reverse("login"), body, declared=3 * MB, cookies={"csrftoken": CSRF})
    assert response.status_code == 413
    assert "The request is larger than 2.5 MB; nothing was saved." in response.content.decode()
    assert body.read_bytes == 0

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    json = _post(reverse("signup"), EndlessUpload(2 * MB), declared=2 * MB, cookies={}, HTTP_ACCEPT="application/json")
    assert json.status_code == 413
    assert loads(json.content) == {"error": "The request is larger than 1 MB; nothing was saved.", "status": 413}


def test_a_content_length_that_is_not_a_number_is_a_400() -> None:
    environ = RequestFactory()._base_environ(PATH_INFO=reverse("login"), REQUEST_METHOD="POST", CONTENT_LENGTH="lots")
    environ["wsgi.input"] = io.BytesIO(b"")
    response = ClientHandler()(environ)
    assert response.status_code == 400
    assert b"Content-Length is not a number" in response.content


def test_the_upload_handler_stops_writing_once_the_files_pass_the_limit(settings: object, tmp_path: object) -> None:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100 * 1024
    request = RequestFactory().post("/no-such-view/")
    request.resolver_match = None
    body = EndlessUpload(2 * MB)
    handlers = [BoundedUploadHandler(request), TemporaryFileUploadHandler(request)]
    meta = {"CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}", "CONTENT_LENGTH": str(2 * MB)}
    post, files = MultiPartParser(meta, io.BufferedReader(body), handlers).parse()
    assert "file" not in files
    assert post["csrfmiddlewaretoken"] == CSRF
    # The parser stopped: it read about the limit and one chunk more, not the whole body.
    assert body.read_bytes < 400 * 1024
    assert not list(tmp_path.iterdir())


class ASGIRecorder:
    """An inner ASGI app that reads the whole body, as Django's handler does, and answers 200."""

    def __init__(self) -> None:
        self.body = b""
        self.saw_disconnect = False

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.saw_disconnect = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})


def _drive(app: object, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]) -> tuple[list, int]:
    """Run one request through `app`: the body is `chunks`, then its end, then the client leaving."""
    sent: list[dict] = []
    pulled = 0
    ended = False

    async def receive() -> dict:
        nonlocal pulled, ended
        chunk = next(chunks, None)
        if chunk is None:
            if ended:
                return {"type": "http.disconnect"}
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, pulled


def _endless(size: int = 64 * 1024) -> Iterator[bytes]:
    while True:
        yield b"x" * size


def test_asgi_an_oversized_declared_body_is_never_handed_to_django() -> None:
    inner = ASGIRecorder()
    headers = [(b"content-length", str(5 * 1024 * MB).encode())]
    sent, pulled = _drive(limit_asgi_bodies(inner), "/sandbox/datasets/new/upload/", headers, iter([b"x" * MB] * 3))
    assert inner.body == b""
    assert sent[0]["status"] == 200
    assert pulled == 0


def test_asgi_a_body_without_a_length_is_cut_off_past_the_views_limit() -> None:
    inner = ASGIRecorder()
    sent, pulled = _drive(limit_asgi_bodies(inner), "/sandbox/datasets/new/upload/", [], _endless())
    assert inner.saw_disconnect
    assert len(inner.body) <= 10 * MB + 64 * 1024
    assert sent[0]["status"] == 413
    assert b"larger than 10 MB" in sent[1]["body"]
    assert pulled < 11 * MB


def test_asgi_other_paths_are_cut_off_at_djangos_own_cap() -> None:
    inner = ASGIRecorder()
    sent, pulled = _drive(limit_asgi_bodies(inner), "/accounts/login/", [], _endless())
    assert sent[0]["status"] == 413
    assert pulled < 3 * MB


def test_asgi_a_body_within_the_limit_is_passed_on_whole() -> None:
    for headers in ([(b"content-length", b"2000")], []):
        inner = ASGIRecorder()
        sent, _ = _drive(limit_asgi_bodies(inner), "/accounts/login/", headers, iter([b"a" * 1000, b"b" * 1000]))
        assert sent[0]["status"] == 200
        assert inner.body == b"a" * 1000 + b"b" * 1000


def test_asgi_a_content_length_that_is_not_a_number_is_a_400() -> None:
    sent, _ = _drive(limit_asgi_bodies(ASGIRecorder()), "/accounts/login/", [(b"content-length", b"-5")], iter([]))
    assert sent[0]["status"] == 400
