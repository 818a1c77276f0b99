"""The checks behind /healthz and the status page, run side by side and answered by one deadline.

Each check runs in a thread of its own (with its own database connection, closed afterwards), so a
database and a Redis that both hang cost the deadline once, not their timeouts added up. A check that
has not answered by the deadline is reported as timed out and left to end on its own timeout; a later
request waits on that same thread instead of starting another, so a hung server costs one thread per
check however often the load balancer asks.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from mlopslab.broker import redis_problem, worker_problem
from mlopslab.database import database_locked

logger = logging.getLogger(__name__)

# /healthz promises an answer within two seconds; this leaves room for the request around the checks.
DEADLINE_SECONDS = 1.5
# Long enough for a healthy writer's transaction to finish, short enough to answer in time.
SQLITE_WRITE_WAIT_MS = 500
POSTGRESQL_STATEMENT_TIMEOUT_MS = 1000

OK = "ok"
ERROR = "error"
BUSY = "busy"
TIMED_OUT = "timed out"


@dataclass(frozen=True)
class Outcome:
    """What one check found: `state` is OK, ERROR, BUSY or TIMED_OUT; `detail` is the driver's own words."""

    state: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == OK


def database_outcome(alias: str = DEFAULT_DB_ALIAS) -> Outcome:
    """Read the migrations table and, on SQLite, take the write lock for a moment.

    `SELECT 1` reads no table, so it succeeds on a SQLite file that is gone (opening one creates an
    empty database). A writer that holds the lock blocks writes but, in WAL mode, not reads, so only
    asking for the lock shows that every form would wait.
    """
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"PRAGMA busy_timeout = {SQLITE_WRITE_WAIT_MS}")
            elif connection.vendor == "postgresql":
                cursor.execute(f"SET statement_timeout = {POSTGRESQL_STATEMENT_TIMEOUT_MS}")
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            if connection.vendor == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute("ROLLBACK")
    except DatabaseError as exc:
        return Outcome(BUSY if database_locked(exc) else ERROR, str(exc) or type(exc).__name__)
    finally:
        connection.close()
    return Outcome(OK)


def redis_outcome(url: str) -> Outcome:
    problem = redis_problem(url)
    return Outcome(OK) if problem is None else Outcome(ERROR, problem)


def workers_outcome(url: str) -> Outcome:
    """Whether a worker's heartbeat is recent (see mlopslab.broker.worker_problem)."""
    problem = worker_problem(url)
    return Outcome(OK) if problem is None else Outcome(ERROR, problem)


_in_flight: dict[str, Future] = {}
_in_flight_lock = threading.Lock()


def _run(check: Callable[[], Outcome], future: Future) -> None:
    try:
        future.set_result(check())
    except Exception as exc:
        # A check that breaks is a failed check, never a failed health page.
        logger.exception("Health check failed unexpectedly")
        future.set_result(Outcome(ERROR, f"{type(exc).__name__}: {exc}"))


def _start(name: str, check: Callable[[], Outcome]) -> Future:
    with _in_flight_lock:
        running = _in_flight.get(name)
        if running is not None and not running.done():
            return running
        future: Future = Future()
        _in_flight[name] = future
    threading.Thread(target=_run, args=(check, future), name=f"health-{name}", daemon=True).start()
    return future


def run_checks(checks: dict[str, Callable[[], Outcome]], *, deadline: float = DEADLINE_SECONDS) -> dict[str, Outcome]:
    """Run every check at once and return each one's outcome, TIMED_OUT for those not done by `deadline` s."""
    futures = {name: _start(name, check) for name, check in checks.items()}
    wait(futures.values(), timeout=deadline)
    return {
        name: future.result() if future.done() else Outcome(TIMED_OUT, f"No answer within {deadline:g} s.")
        for name, future in futures.items()
    }
