"""Who is here: when each signed-in person was last seen and on which stage, recorded by `PresenceMiddleware`
at most once a minute, and the counts and names the header and the stage page show.

The middleware writes nothing on most requests: this process remembers when it last wrote each person's row and
on which stage, and writes again only when a minute has passed or they opened another stage. A request whose view
never looked at the user (a static file, a health check, a token-authenticated API call) is not a visit and costs
no session lookup.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from community.models import Presence
from lessons.models import Node

WRITE_EVERY_SECONDS = 60
ACTIVE_MINUTES = 5
ACTIVE_CACHE_SECONDS = 30
ACTIVE_CACHE_KEY = "community:active-now"
NAMES_SHOWN = 8
# The lessons pages that are "working on a stage": the stage, its lessons and its quiz.
STAGE_PAGES = {"node", "lesson", "quiz"}
_REMEMBERED_MAX = 50_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Written:
    at: float
    node_slug: str | None
    joined: dt.datetime


_written: dict[int, _Written] = {}
_written_lock = threading.Lock()


def presence_forget() -> None:
    """Forget what this process wrote, and the cached count (tests start from nothing)."""
    with _written_lock:
        _written.clear()
    cache.delete(ACTIVE_CACHE_KEY)


def _stage_slug(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None or match.app_name != "lessons" or match.url_name not in STAGE_PAGES:
        return None
    return match.kwargs.get("node_slug")


def presence_record(*, user: User, node_slug: str | None = None) -> bool:
    """Record that the user is here now (and on that stage, when given) unless this process did so less than a
    minute ago on the same stage. Returns whether it wrote."""
    now_tick = time.monotonic()
    seen = _written.get(user.pk)
    fresh = seen is not None and seen.joined == user.date_joined and now_tick - seen.at < WRITE_EVERY_SECONDS
    if fresh and (node_slug is None or node_slug == seen.node_slug):
        return False
    now = timezone.now()
    fields: dict[str, object] = {"last_seen_at": now}
    if node_slug is not None:
        fields["node_id"] = Node.objects.filter(slug=node_slug).values_list("pk", flat=True).first()
    try:
        with transaction.atomic():
            if not Presence.objects.filter(user_id=user.pk).update(**fields):
                Presence.objects.create(user_id=user.pk, **fields)
    except IntegrityError:  # another process created the row first: theirs is as good
        pass
    except DatabaseError:  # a busy database: the page matters more than the minute
        log.warning("presence not recorded for user %s", user.pk, exc_info=True)
        return False
    with _written_lock:
        if len(_written) >= _REMEMBERED_MAX:
            _written.clear()
        remembered = node_slug if node_slug is not None else (seen.node_slug if fresh else None)
        _written[user.pk] = _Written(at=now_tick, node_slug=remembered, joined=user.date_joined)
    return True


class PresenceMiddleware:
    """Below AuthenticationMiddleware: records each signed-in visit through `presence_record`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django's lazy request.user keeps the user it loaded here; absent, the view never asked who this is.
        user = getattr(request, "_cached_user", None)
        if user is not None and user.is_authenticated and response.status_code < 400:
            presence_record(user=user, node_slug=_stage_slug(request))
        return response


def _active_since() -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=ACTIVE_MINUTES)


def active_now() -> int | None:
    """How many people were seen in the last five minutes, hidden ones included; counted at most every 30 s.
    None when the database cannot say (the header then says nothing rather than failing the page)."""
    count = cache.get(ACTIVE_CACHE_KEY)
    if count is None:
        try:
            count = Presence.objects.filter(last_seen_at__gte=_active_since()).count()
        except DatabaseError:
            log.warning("could not count who is active", exc_info=True)
            return None
        cache.set(ACTIVE_CACHE_KEY, count, ACTIVE_CACHE_SECONDS)
    return count


@dataclass(frozen=True)
class StagePresence:
    names: list[str]
    others: int

    def __bool__(self) -> bool:
        return bool(self.names)


def stage_presence(*, node_id: int, viewer: User | AnonymousUser, shown: int = NAMES_SHOWN) -> StagePresence:
    """Who is working on the stage now (seen on it in the last five minutes), by first name or else username,
    most recent first: never those who chose to stay hidden, nor the viewer. One query, two beyond `shown`."""
    people = Presence.objects.filter(node_id=node_id, last_seen_at__gte=_active_since(), hidden=False)
    if viewer.is_authenticated:
        people = people.exclude(user_id=viewer.pk)
    rows = list(people.order_by("-last_seen_at").values_list("user__first_name", "user__username")[: shown + 1])
    names = [first.strip() or username for first, username in rows[:shown]]
    others = people.count() - shown if len(rows) > shown else 0
    return StagePresence(names=names, others=others)


def presence_hidden(user: User) -> bool:
    return Presence.objects.filter(user=user, hidden=True).exists()


def presence_set_hidden(*, user: User, hidden: bool) -> None:
    """Stay hidden from (or show again on) the stage pages' "who is here"."""
    if not Presence.objects.filter(user=user).update(hidden=hidden):
        Presence.objects.get_or_create(user=user, defaults={"hidden": hidden, "last_seen_at": timezone.now()})
