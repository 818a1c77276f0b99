"""The production ASGI app runs each request's sync stack in one hop, on one thread, with one connection."""

import asyncio
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished
from django.db import connection

from mlopslab.asgi import SyncStackASGIHandler, application


async def _get(path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], body


def test_the_middleware_chain_is_built_for_sync_code() -> None:
    handler = SyncStackASGIHandler()
    assert not inspect.iscoroutinefunction(handler._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_requests_share_one_thread_and_one_database_connection() -> None:
    connection.settings_dict["CONN_MAX_AGE"] = 300
    seen: list[tuple[int, int | None]] = []

    def record(**kwargs: object) -> None:
        # Runs as each response closes, on the thread that ran the request, after its queries.
        seen.append((threading.get_ident(), id(connection.connection) if connection.connection else None))

    request_finished.connect(record)
    try:

        async def scenario() -> list[int]:
            return [(await _get("/glossary/"))[0] for _ in range(3)]

        # In a thread of its own: Playwright's sync API may have left an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            statuses = pool.submit(asyncio.run, scenario()).result(timeout=60)
    finally:
        request_finished.disconnect(record)
        connection.settings_dict["CONN_MAX_AGE"] = 0
    assert statuses == [200, 200, 200]
    assert len({thread for thread, _ in seen}) == 1, "requests ran on different threads"
    assert seen[0][1] is not None
    assert len({conn for _, conn in seen}) == 1, "each request opened a new connection"
