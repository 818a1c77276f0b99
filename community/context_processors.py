"""The community's part of every page: the unread notifications in the navigation, "N active now" in the header,
whether the viewer moderates, and on a stage page who is working on it. Each is computed only when a template
shows it: a fragment that shows none of them asks nothing."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from community import notifications, presence
from community.models import Report
from community.visibility import is_moderator
from lessons.course import course_snapshot


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
        "community_moderator": SimpleLazyObject(lambda: is_moderator(user)),
        "community_stage_presence": SimpleLazyObject(lambda: _stage_presence(request)),
        "community_report_reasons": Report.Reason.choices,
    }
