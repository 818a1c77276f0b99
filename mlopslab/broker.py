"""Whether the Redis behind Celery answers, and which workers listen on it, asked quickly enough to tell a learner."""

from urllib.parse import urlsplit

import redis
from celery import Celery
from kombu.exceptions import OperationalError


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
