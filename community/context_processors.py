"""The community's part of every page: the unread notifications in the navigation, "N active now" in the header,
whether the viewer moderates, and on a stage page who is working on it. The counts and names are computed only
when a template shows them: a fragment that shows none of them asks nothing."""

from functools import lru_cache

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject

from community import notifications, presence
from community.visibility import is_moderator
from lessons.course import course_snapshot

_ID = 987654321


@lru_cache(maxsize=16)
def _around_the_id(name: str, prefix: str) -> tuple[str, str]:
    """The parts of a post's URL before and after its id, reversed once per process (and script prefix)."""
    before, after = reverse(name, kwargs={"post_id": _ID}).split(str(_ID))
    return before, after


def _stage_presence(request: HttpRequest) -> presence.StagePresence:
    match = request.resolver_match
    node_slug = match.kwargs.get("node_slug") if match is not None else None
    node = course_snapshot().by_slug.get(node_slug) if node_slug is not None else None
    if node is None:
        return presence.StagePresence(names=[], others=0)
    return presence.stage_presence(node_id=node.pk, viewer=request.user)


def community(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    active_now = SimpleLazyObject(presence.active_now)
    if not (user and user.is_authenticated):
        return {"community_unread": 0, "community_active_now": active_now, "community_moderator": False}
    return {
        "community_unread": SimpleLazyObject(lambda: notifications.unread_count(user)),
        "community_active_now": active_now,
        # Not lazy: a thread page asks it for every post, and the navigation has already read the standing it needs.
        "community_moderator": is_moderator(user),
        # A thread page shows a Report link on every post: `{% url %}` would reverse it a few hundred times.
        "community_report_url": _around_the_id("community:report", get_script_prefix()),
        "community_stage_presence": SimpleLazyObject(lambda: _stage_presence(request)),
    }
