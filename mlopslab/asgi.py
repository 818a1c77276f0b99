"""The ASGI application, as README's production recipe serves it (gunicorn with uvicorn workers).

An ASGI server reads request bodies on its event loop, so a slow or lying client holds a socket, not
a worker; `limit_asgi_bodies` keeps an oversized body from being handed to Django at all.

Every view and middleware of the Lab is synchronous. Django's stock ASGI handler runs such a stack
in async mode: each middleware's request and response hooks and the view hop to a thread one by one
(about fifteen hops a request), each request in a thread of its own, so that every request also opens
a new database connection. Measured with benchmarks/pages.py, that cost a minimal Django page three
quarters of its throughput. `SyncStackASGIHandler` instead runs the whole request — middleware, view
and template — in one hop, on the one long-lived thread per process that asgiref keeps for
thread-sensitive code, exactly as a WSGI worker would; so persistent database connections
(CONN_MAX_AGE) are reused as they are under WSGI, and the event loop still does the network I/O.

In front of it all, `serving_lane` answers token-authenticated predictions itself, past Django's request
cycle (see sandbox/serving/lane.py); every other request reaches Django unchanged.
"""

import os

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

from mlopslab.limits import limit_asgi_bodies


class SyncStackASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain built for sync code and run in one thread hop."""

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        # The stock handler opens a ThreadSensitiveContext here, which gives each request a new thread
        # (and a new database connection); without it, sync code runs on asgiref's one shared thread.
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_application() -> SyncStackASGIHandler:
    import django

    django.setup(set_prefix=False)
    return SyncStackASGIHandler()


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopslab.settings")
_django = limit_asgi_bodies(get_application())

# Predictions with a bearer token take their own lane past Django's request cycle (see its docstring).
from sandbox.serving.lane import serving_lane  # noqa: E402  (it needs the apps loaded)

application = serving_lane(_django)
