"""Whether the Redis behind Celery answers, asked quickly enough to tell a learner."""

import redis


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
