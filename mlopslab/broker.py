"""The Redis behind Celery: whether it answers, which workers listen on it, and the transport that talks to it.

Everything here is asked quickly enough to tell a learner, and none of it needs Django.
"""

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
