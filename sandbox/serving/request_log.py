"""Writing the request log: one request's rows at once, or many requests' rows together in the background.

A row is a dict of PredictionLog's field values by attname (`deployment_id`, `inputs`, ...): building a model
instance for each request, with its init signals, cost more than reading the request.

Inserting one row into SQLite and committing it costs about 0.4 ms of CPU, more than reading, checking and
predicting a one-row request together (0.1 ms); in batches of fifty the same rows cost a few hundredths of
that each. So the endpoint's ASGI lane (sandbox.serving.lane), which serves the load, hands its rows to
`batched`, which a background thread of the process writes every FLUSH_SECONDS in one transaction; a row is
in the table within that time, and the caller never waits for it. The Django view writes its rows at once
(`write`), as it always has: a page that shows the log right after the "try it" form sees its row.

Rows wait in memory only: a worker killed without warning loses at most FLUSH_SECONDS of its log, a worker
stopping normally writes what waits as it exits. When the database refuses a batch, the batch waits for the
next flush, up to MOST_WAITING rows, past which the oldest are dropped with a warning rather than letting a
database outage grow a worker's memory without bound.
"""

import atexit
import functools
import logging
import os
import threading
import time
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.sql import InsertQuery

from sandbox.serving.models import PredictionLog

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05
MOST_WAITING = 50_000

_FIELDS = tuple(field for field in PredictionLog._meta.concrete_fields if not field.primary_key)


@functools.cache
def _insert_sql(alias: str, vendor: str) -> str:
    """The ORM's own INSERT of one log row, compiled once per process and database vendor."""
    query = InsertQuery(PredictionLog)
    query.insert_values(_FIELDS, [PredictionLog(request_id="")], raw=False)
    [(sql, _)] = query.get_compiler(alias).as_sql()
    return sql


def _row(log: dict, connection: object) -> list:
    """The INSERT's parameters for `log` (PredictionLog's field values by attname, a field left out taking its
    default): what each field's get_db_prep_save gives, converting only the JSON and date-time values (the
    others are plain numbers and text, which the drivers take as they are)."""
    ops = connection.ops
    values = []
    for field in _FIELDS:
        value = log[field.attname] if field.attname in log else field.get_default()
        if value is not None:
            if isinstance(field, models.JSONField):
                value = ops.adapt_json_value(value, field.encoder)
            elif isinstance(field, models.DateTimeField):
                value = ops.adapt_datetimefield_value(value)
        values.append(value)
    return values


def write(logs: Sequence[dict], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert the rows now, in one transaction when there are several (a shadow's row never stands alone)."""
    connection = connections[using]
    sql = _insert_sql(using, connection.vendor)
    rows = [_row(log, connection) for log in logs]
    if len(rows) == 1:
        with connection.cursor() as cursor:
            cursor.execute(sql, rows[0])
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class BatchedLog:
    """Rows handed over by requests, written together by a background thread every `every` seconds."""

    def __init__(self, *, every: float = FLUSH_SECONDS, most: int = MOST_WAITING) -> None:
        self.every = every
        self.most = most
        self.dropped = 0
        self._waiting: list[dict] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._pid: int | None = None

    def add(self, logs: Sequence[dict]) -> None:
        with self._lock:
            self._waiting.extend(logs)
            self._bound()
            if self._pid != os.getpid():
                self._start()

    def _bound(self) -> None:
        over = len(self._waiting) - self.most
        if over > 0:
            del self._waiting[:over]
            self.dropped += over
            logger.warning("the request log dropped %d rows it could not write (%d so far)", over, self.dropped)

    def _start(self) -> None:
        # Once per process: a worker forked from a parent that had a thread has none of its own.
        self._pid = os.getpid()
        threading.Thread(target=self._run, name="request-log", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            self.flush()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def flush(self) -> int:
        """Write every waiting row now, in one transaction; return how many were written (0 on failure)."""
        with self._writing:
            with self._lock:
                batch, self._waiting = self._waiting, []
            if not batch:
                return 0
            try:
                write(batch)
            except Exception:
                logger.exception("could not write %d rows of the request log; they wait for the next flush", len(batch))
                connection = connections[DEFAULT_DB_ALIAS]
                if not connection.in_atomic_block:
                    # A broken connection is opened afresh next time.
                    connection.close()
                with self._lock:
                    self._waiting[:0] = batch
                    self._bound()
                return 0
            return len(batch)


batched = BatchedLog()
