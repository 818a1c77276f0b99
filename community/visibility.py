"""Who sees what in the community: a hidden post is gone for everyone but moderators and its author.

Moderators are instructors (the authoring permission) and staff. Every list, search, count and notification
of posts goes through `visible_posts`, so a hidden post never leaks through one of them.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from community.models import Post
from lessons.selectors import is_author


def is_moderator(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and (user.is_staff or is_author(user)))


def visible_posts(queryset: QuerySet[Post], user: User | AnonymousUser) -> QuerySet[Post]:
    """The posts of `queryset` the user may see: all for a moderator, else the shown ones and their own."""
    if is_moderator(user):
        return queryset
    if user.is_authenticated:
        return queryset.filter(Q(hidden_at__isnull=True) | Q(author=user))
    return queryset.filter(hidden_at__isnull=True)


def can_see(post: Post, user: User | AnonymousUser) -> bool:
    return post.hidden_at is None or is_moderator(user) or (user.is_authenticated and post.author_id == user.pk)
