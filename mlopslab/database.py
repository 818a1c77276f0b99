"""A database that another process holds locked: refuse the request quickly and say so, instead of a 500.

SQLite lets one writer at a time hold its file; others wait out the busy timeout (`DATABASES` OPTIONS
"timeout", a few seconds) and then fail with "database is locked". That is a temporary state of the
server, not a bug in the request, so it is answered as a 503 through the one refusal path.
"""

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse

from mlopslab.refusals import Refused, refusal_response

logger = logging.getLogger(__name__)

BUSY_MESSAGE = "The database is busy; nothing was saved. Try again in a moment."
RETRY_AFTER_SECONDS = 5


def database_locked(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (and "database table is locked"), whichever layer wrapped it."""
    return isinstance(exc, OperationalError) and "is locked" in str(exc)


class DatabaseBusyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_locked(exception):
            return None
        logger.warning("Refused %s %s with 503: %s", request.method, request.path, exception)
        response = refusal_response(request, Refused(BUSY_MESSAGE, status=503))
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
