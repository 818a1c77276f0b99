"""The workers behind the job path, as /healthz and Celery see them: heartbeats, and the transport's closed channel."""

import pytest
import redis

from mlopslab import broker

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("last_seen", "problem"),
    [
        (NOW - 3, None),
        (NOW - broker.WORKER_SILENT_AFTER, None),
        (NOW - 40.4, "no worker heard from for 40 s"),
        (None, "no worker has been heard from"),
    ],
)
def test_a_worker_counts_while_its_heartbeat_is_recent(
    monkeypatch: pytest.MonkeyPatch, last_seen: float | None, problem: str | None
) -> None:
    monkeypatch.setattr(broker, "worker_last_seen", lambda url, **kwargs: last_seen)
    assert broker.worker_problem("redis://127.0.0.1:6379/0", now=NOW) == problem


def test_workers_are_not_known_while_redis_does_not_answer(closed_redis_url: str) -> None:
    assert broker.worker_problem(closed_redis_url, timeout=0.2) == "not known, because Redis does not answer"


def test_a_channel_closed_after_its_connection_reports_a_lost_connection() -> None:
    """What kombu 5.7.0 raised as AttributeError, which killed the worker, is an error Celery reconnects after."""
    channel = broker._Channel.__new__(broker._Channel)
    channel.connection = None
    with pytest.raises(redis.ConnectionError) as raised:
        channel._connparams()
    assert isinstance(raised.value, broker.RedisTransport.connection_errors)
