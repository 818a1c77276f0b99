"""The Redis behind Celery: whether it answers, which workers listen on it, and the transport that talks to it.

Everything here is asked quickly enough to tell a learner, and none of it needs Django.
"""

import time
from urllib.parse import urlsplit

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis


def redis_problem(url: str, *, timeout: float = 1.0) -> str | None:
    """Return why Redis at `url` cannot be used, or None when it answers a PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def redis_location(url: str) -> str:
    """Where `url` points, as host:port and database number, without its user name or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return "a Unix socket"
    database = parts.path.strip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}, database {database}"


def workers_answering(app: Celery, *, timeout: float = 1.0) -> list[str]:
    """Names of the Celery workers that answer a broadcast ping within `timeout` seconds.

    The broadcast waits the whole timeout for replies, since it cannot know how many workers
    exist; ask only once Redis is known to answer, or the broker connection retries add up.
    """
    try:
        replies = app.control.ping(timeout=timeout)
    except (OperationalError, redis.RedisError, OSError):
        return []
    return sorted(name for reply in replies for name in reply)


# Each worker writes its name and the time into this sorted set every HEARTBEAT_SECONDS while it is
# connected and consuming (mlopslab.celery.Heartbeat); a worker silent for WORKER_SILENT_AFTER is
# reported as not heard from.
HEARTBEAT_KEY = "mlopslab:workers:heartbeat"
HEARTBEAT_SECONDS = 5
WORKER_SILENT_AFTER = 3 * HEARTBEAT_SECONDS
# Names not heard from for a day are dropped, so that workers which are gone for good do not pile up.
_HEARTBEAT_FORGET_AFTER = 24 * 3600


def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def worker_heartbeat(url: str, *, worker: str, now: float | None = None, timeout: float = 1.0) -> None:
    """Record that `worker` is alive now; raises redis.RedisError when Redis does not answer."""
    now = time.time() if now is None else now
    client = _client(url, timeout)
    try:
        client.pipeline().zadd(HEARTBEAT_KEY, {worker: now}).zremrangebyscore(
            HEARTBEAT_KEY, "-inf", now - _HEARTBEAT_FORGET_AFTER
        ).execute()
    finally:
        client.close()


def worker_last_seen(url: str, *, timeout: float = 1.0) -> float | None:
    """When a worker last wrote its heartbeat (a Unix time), or None when none has since Redis kept data.

    Raises redis.RedisError when Redis does not answer.
    """
    client = _client(url, timeout)
    try:
        newest = client.zrange(HEARTBEAT_KEY, -1, -1, withscores=True)
    finally:
        client.close()
    return newest[0][1] if newest else None


def worker_problem(url: str, *, now: float | None = None, timeout: float = 1.0) -> str | None:
    """Why no worker can be counted on, from the heartbeats, or None when one was heard from lately."""
    try:
        last_seen = worker_last_seen(url, timeout=timeout)
    except redis.RedisError:
        return "not known, because Redis does not answer"
    if last_seen is None:
        return "no worker has been heard from"
    silent = (time.time() if now is None else now) - last_seen
    if silent > WORKER_SILENT_AFTER:
        return f"no worker heard from for {silent:.0f} s"
    return None


class _Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        # kombu 5.7.0 with celery 5.7.0: when the broker goes away while the consumer waits in BRPOP,
        # celery's Consumer.on_connection_error_after_connected calls connection.collect() and then
        # connection.close(). collect() closes the default channel, whose close() fails at once on the
        # dead socket (_brpop_read) before the channel is marked closed, and then drops the
        # transport's client. close() closes the same channel again; with a message in flight the
        # QoS restores it, which needs a new pool, and the connection parameters are read from the
        # dropped client: AttributeError "'NoneType' object has no attribute 'hostname'", which
        # celery does not recover from, so the worker exits. Reported as the lost connection it
        # is, celery reconnects; the message stays in Redis's unacked set, and the visibility
        # timeout hands it out again if its job never finished.
        if self.connection is None or self.connection.client is None:
            raise redis.ConnectionError("The broker connection was already closed.")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, with a channel that survives being closed after its connection (see `_Channel`).

    Celery uses it through `broker_transport` (`CELERY_BROKER_TRANSPORT` in the settings).
    """

    Channel = _Channel
