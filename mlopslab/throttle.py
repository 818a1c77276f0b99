"""How often one account or one client address may fail to sign in, and how often an address may sign up.

Counters live in the "throttle" cache (Redis at REDIS_URL through Django's cache framework, so every web
process counts together), one per limit and key. A window opens with the first attempt and lasts the
limit's `window` seconds; a client past the limit is told what is left of it. When the cache does not
answer, attempts are allowed and the gap is logged: a Redis outage must neither lock everyone out nor
answer 500, and for a few seconds after a failure the cache is not asked at all, so a Redis that hangs
costs one timeout, not one per counter.
"""

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from redis import RedisError

from mlopslab.refusals import Refused

logger = logging.getLogger(__name__)

CACHE_ALIAS = "throttle"
SKIP_CACHE_AFTER_FAILURE_SECONDS = 5.0
_cache_down_until: dict[str, float] = {}


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window: int


class Throttled(Refused):
    """Too many attempts from this account or address; `retry_after` is the wait in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} seconds.", status=429)
        self.retry_after = retry_after


def login_limits() -> tuple[Limit, Limit]:
    """Failed sign-ins per account and per address."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    return (
        Limit("login-account", settings.LOGIN_FAILURES_PER_ACCOUNT, window),
        Limit("login-address", settings.LOGIN_FAILURES_PER_ADDRESS, window),
    )


def signup_limit() -> Limit:
    return Limit("signup-address", settings.SIGNUPS_PER_ADDRESS, settings.SIGNUP_WINDOW_SECONDS)


def client_address(request: HttpRequest) -> str:
    """The client's address; an IPv6 client counts by its /64, which one machine usually has whole."""
    raw = request.META.get("REMOTE_ADDR") or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _account(username: str) -> str:
    return username.strip().casefold()


def _keys(limit: Limit, key: str) -> tuple[str, str]:
    # Hashed: user names and addresses may hold characters a cache key should not.
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{limit.name}:{digest}:count", f"{limit.name}:{digest}:opened"


def _cache_location() -> str:
    return str(settings.CACHES[CACHE_ALIAS].get("LOCATION", ""))


def _cache_usable() -> bool:
    return time.monotonic() >= _cache_down_until.get(_cache_location(), 0.0)


def _cache_failed(exc: Exception) -> None:
    _cache_down_until[_cache_location()] = time.monotonic() + SKIP_CACHE_AFTER_FAILURE_SECONDS
    logger.warning("Sign-in and sign-up attempts are not being counted: the throttle cache does not answer (%s)", exc)


def seconds_to_wait(*pairs: tuple[Limit, str]) -> int:
    """Seconds until every (limit, key) pair allows another attempt; 0 when they all do now."""
    if not _cache_usable():
        return 0
    keys = {pair: _keys(*pair) for pair in pairs}
    try:
        values = caches[CACHE_ALIAS].get_many([key for both in keys.values() for key in both])
    except (RedisError, OSError) as exc:
        _cache_failed(exc)
        return 0
    now = time.time()
    wait = 0
    for (limit, _), (count_key, opened_key) in keys.items():
        if values.get(count_key, 0) >= limit.attempts:
            opened = values.get(opened_key, now)
            wait = max(wait, math.ceil(opened + limit.window - now), 1)
    return wait


def record(*pairs: tuple[Limit, str]) -> None:
    """Count one attempt against each (limit, key) pair, opening its window if none is open."""
    if not _cache_usable():
        return
    cache = caches[CACHE_ALIAS]
    try:
        for limit, key in pairs:
            count_key, opened_key = _keys(limit, key)
            cache.add(opened_key, time.time(), timeout=limit.window)
            if cache.add(count_key, 1, timeout=limit.window):
                continue
            try:
                cache.incr(count_key)
            except ValueError:
                # The window closed between the two calls: this attempt opens the next one.
                cache.add(count_key, 1, timeout=limit.window)
    except (RedisError, OSError) as exc:
        _cache_failed(exc)


def forget(*pairs: tuple[Limit, str]) -> None:
    if not _cache_usable():
        return
    try:
        caches[CACHE_ALIAS].delete_many([key for pair in pairs for key in _keys(*pair)])
    except (RedisError, OSError) as exc:
        _cache_failed(exc)


def _refuse_if_waiting(*pairs: tuple[Limit, str]) -> None:
    wait = seconds_to_wait(*pairs)
    if wait:
        raise Throttled(wait)


def login_check(request: HttpRequest, username: str) -> None:
    """Raise Throttled when this account or this address has failed to sign in too often lately."""
    per_account, per_address = login_limits()
    _refuse_if_waiting((per_account, _account(username)), (per_address, client_address(request)))


def login_failed(request: HttpRequest, username: str) -> None:
    per_account, per_address = login_limits()
    record((per_account, _account(username)), (per_address, client_address(request)))


def login_succeeded(username: str) -> None:
    """The account's owner got in: their earlier typing mistakes no longer count against the account."""
    per_account, _ = login_limits()
    forget((per_account, _account(username)))


def signup_check(request: HttpRequest) -> None:
    _refuse_if_waiting((signup_limit(), client_address(request)))


def signup_done(request: HttpRequest) -> None:
    record((signup_limit(), client_address(request)))
