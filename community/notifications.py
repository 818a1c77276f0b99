"""The inbox: a person's notifications about their posts, less those about a post hidden from them.

A notification names a post (an answer, a comment, a post of theirs hidden or restored); it is shown and counted
only while the recipient may see that post, its question and the post it comments on, by the same rule as
`community.visibility` (moderators see all; others the shown posts and their own).
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db import DatabaseError
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from community.models import Notification, Post
from community.visibility import is_moderator


def _shown(relation: str, user: User) -> Q:
    """The post at `relation` (a path from the notification) is visible to the user, or there is none."""
    return (
        Q(**{f"{relation}__isnull": True})
        | Q(**{f"{relation}__hidden_at__isnull": True})
        | Q(**{f"{relation}__author": user})
    )


def visible_notifications(user: User) -> QuerySet[Notification]:
    """The user's notifications, newest first, without those about a post hidden from them."""
    notifications = Notification.objects.filter(recipient=user)
    if is_moderator(user):
        return notifications
    return notifications.filter(_shown("post", user), _shown("post__question", user), _shown("post__parent", user))


def unread_count(user: User | AnonymousUser) -> int:
    """The number in the navigation: one query, none for a visitor who is not signed in."""
    if not user.is_authenticated:
        return 0
    try:
        return visible_notifications(user).filter(read_at__isnull=True).count()
    except DatabaseError:  # the navigation of a page that can still answer (the status page) says nothing
        return 0


def inbox(user: User, *, limit: int = 50) -> list[Notification]:
    """The newest notifications with their post and actor, each with `.url` to the post in its thread."""
    shown = list(visible_notifications(user).select_related("post", "actor")[:limit])
    for notification in shown:
        notification.url = post_url(notification.post)
    return shown


def notifications_mark_read(*, user: User, notifications: list[Notification] | None = None) -> int:
    """Mark the given notifications (by default all of the user's) read. Returns how many were unread."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notifications is not None:
        unread = unread.filter(pk__in=[n.pk for n in notifications if n.read_at is None])
    return unread.update(read_at=timezone.now())


def post_url(post: Post) -> str:
    """The post in its thread: the question's page with the post's anchor."""
    question_id = post.pk if post.kind == Post.Kind.QUESTION else post.question_id
    return reverse("community:question", kwargs={"post_id": question_id}) + f"#post-{post.pk}"
