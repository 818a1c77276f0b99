"""Moderation of the community: reports, hiding and restoring a post, locking a question, and an author's own
edits and deletions.

Moderators are `community.visibility.is_moderator` (instructors and staff). Every service checks its rule before
writing and raises `Refused` having changed nothing. Hiding or restoring tells the author why, through a
`Notification`, and keeps the question's visible answer count right.
"""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from community import services
from community.models import Notification, Post, PostRevision, Report
from community.visibility import can_see, is_moderator
from mlopslab.refusals import Refused

HIDE_REASON_MAX = 300
QUEUE_SIZE = 50


def _moderator(user: User) -> None:
    if not is_moderator(user):
        raise Refused("Only instructors and staff can moderate the community.", status=403)


def _thread_question(post: Post) -> Post:
    return post if post.kind == Post.Kind.QUESTION else post.question


def _answers_changed(post: Post) -> None:
    """A hidden, restored or deleted answer changes its question's visible answers (and maybe its accepted one)."""
    if post.kind == Post.Kind.ANSWER:
        services.question_counts_refresh(Post.objects.get(pk=post.question_id))


def _notify_author(post: Post, *, kind: str, actor: User, message: str) -> None:
    if post.author_id != actor.pk:
        Notification.objects.create(recipient_id=post.author_id, kind=kind, post=post, actor=actor, message=message)


# --- reports ---------------------------------------------------------------------------------------------------


def report_create(*, post: Post, reporter: User, reason: str, detail: str = "") -> Report:
    """Ask moderators to look at a post: once per post and reporter, never one's own post."""
    if not can_see(post, reporter):
        raise Refused("That post does not exist.", status=404)
    if post.author_id == reporter.pk:
        raise Refused("This is your own post: edit or delete it instead of reporting it.", status=403)
    if reason not in Report.Reason.values:
        raise Refused("Choose why you are reporting this post.", status=422)
    earlier = Report.objects.filter(post=post, reporter=reporter).first()
    if earlier is not None:
        raise Refused(
            f"You reported this post on {timezone.localtime(earlier.created_at):%d %b %Y at %H:%M}: "
            "a moderator will look at it. A post can be reported once by each person.",
            status=409,
        )
    try:
        with transaction.atomic():
            return Report.objects.create(post=post, reporter=reporter, reason=reason, detail=detail.strip()[:500])
    except IntegrityError:  # the same report sent twice at once
        raise Refused("You have already reported this post: a moderator will look at it.", status=409) from None


def reports_dismiss(*, post: Post, moderator: User) -> int:
    """Close the post's open reports without hiding it. Returns how many were closed."""
    _moderator(moderator)
    closed = Report.objects.filter(post=post, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=moderator, outcome=Report.Outcome.DISMISSED
    )
    if not closed:
        raise Refused("This post has no open reports to dismiss.", status=409)
    return closed


@dataclass(frozen=True)
class QueueItem:
    post: Post
    reports: list[Report]
    revisions: list[PostRevision]


def moderation_queue(*, limit: int = QUEUE_SIZE) -> list[QueueItem]:
    """The posts with open reports, the most recently reported first, each with its open reports and the texts it
    had before its edits. Four queries whatever the number of posts."""
    open_reports = list(
        Report.objects.filter(resolved_at__isnull=True).order_by("-created_at", "-pk").values_list("post_id", flat=True)
    )
    post_ids = list(dict.fromkeys(open_reports))[:limit]
    posts = Post.objects.filter(pk__in=post_ids).select_related("author", "question", "hidden_by")
    by_pk = {post.pk: post for post in posts}
    reports: dict[int, list[Report]] = {pk: [] for pk in post_ids}
    for report in Report.objects.filter(post_id__in=post_ids, resolved_at__isnull=True).select_related("reporter"):
        reports[report.post_id].append(report)
    revisions: dict[int, list[PostRevision]] = {pk: [] for pk in post_ids}
    for revision in PostRevision.objects.filter(post_id__in=post_ids).select_related("edited_by"):
        revisions[revision.post_id].append(revision)
    return [QueueItem(by_pk[pk], reports[pk], revisions[pk]) for pk in post_ids if pk in by_pk]


def hidden_posts(*, limit: int = QUEUE_SIZE) -> QuerySet[Post]:
    """The most recently hidden posts, for moderators to restore."""
    return (Post.objects.filter(hidden_at__isnull=False).select_related("author", "question", "hidden_by")).order_by(
        "-hidden_at"
    )[:limit]


# --- hiding, restoring and locking -----------------------------------------------------------------------------


def post_hide(*, post: Post, moderator: User, reason: str) -> Post:
    """Hide a post from everyone but moderators and its author, close its open reports as hidden, and tell the
    author why (the reason is their notification's message)."""
    _moderator(moderator)
    reason = " ".join(reason.replace("\x00", "").split())
    if not reason:
        raise Refused("Say why the post is hidden: its author is told.", status=422)
    if len(reason) > HIDE_REASON_MAX:
        raise Refused(f"Keep the reason to {HIDE_REASON_MAX} characters (it has {len(reason):,}).", status=422)
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        if post.hidden:
            raise Refused("This post is already hidden.", status=409)
        now = timezone.now()
        post.hidden_at, post.hidden_by, post.hidden_reason = now, moderator, reason
        post.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        Report.objects.filter(post=post, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=moderator, outcome=Report.Outcome.HIDDEN
        )
        _answers_changed(post)
        _notify_author(post, kind=Notification.Kind.HIDDEN, actor=moderator, message=reason)
    return post


def post_restore(*, post: Post, moderator: User) -> Post:
    _moderator(moderator)
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        if not post.hidden:
            raise Refused("This post is not hidden.", status=409)
        post.hidden_at, post.hidden_by, post.hidden_reason = None, None, ""
        post.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        _answers_changed(post)
        _notify_author(
            post, kind=Notification.Kind.RESTORED, actor=moderator,
            message="A moderator restored your post: everyone can see it again.",
        )  # fmt: skip
    return post


def question_lock(*, question: Post, moderator: User, locked: bool = True) -> Post:
    """Lock a question (it takes no new answers or comments) or, with `locked=False`, unlock it."""
    _moderator(moderator)
    if question.kind != Post.Kind.QUESTION:
        raise Refused("Only a question can be locked.", status=422)
    if question.locked == locked:
        raise Refused("This question is already locked." if locked else "This question is not locked.", status=409)
    question.locked_at, question.locked_by = (timezone.now(), moderator) if locked else (None, None)
    question.save(update_fields=["locked_at", "locked_by"])
    return question


# --- the author's own edits and deletions ----------------------------------------------------------------------


def post_edit(*, post: Post, editor: User, title: str, body: str) -> Post:
    """The author changes their post's text under the rules of posting; the text it had is kept as a revision
    for moderators, and the post is marked edited."""
    if post.author_id != editor.pk:
        raise Refused("Only its author can edit a post.", status=403)
    question = _thread_question(post)
    if question.locked:
        raise Refused("This question is locked by a moderator: its posts can no longer be edited.", status=403)
    what = {Post.Kind.QUESTION: "question", Post.Kind.ANSWER: "answer"}.get(post.kind, "comment")
    title = services.title_check(title) if post.kind == Post.Kind.QUESTION else ""
    body = services.body_check(body, what=what)
    if title == post.title and body == post.body:
        raise Refused("Nothing changed: edit the text, then save.", status=422)
    with transaction.atomic():
        PostRevision.objects.create(post=post, title=post.title, body=post.body, edited_by=editor)
        services.post_text_set(post, title=title, body=body)
        post.edited_at = timezone.now()
        post.save(update_fields=["title", "body", "body_html", "search_document", "edited_at"])
    return post


def post_replies(post: Post) -> str:
    """Why the post can no longer be deleted ('' when it can): it has answers or comments."""
    if post.kind == Post.Kind.QUESTION and Post.objects.filter(question=post).exists():
        return "Someone has answered or commented on this question: it stays, so their replies keep their place."
    if post.kind != Post.Kind.QUESTION and Post.objects.filter(parent=post).exists():
        return "Someone has commented on this post: it stays, so their comments keep their place."
    return ""


def post_delete(*, post: Post, user: User) -> Post | None:
    """The author deletes their post while nobody has replied to it. Returns the thread's question, or None when
    the question itself was deleted."""
    if post.author_id != user.pk:
        raise Refused("Only its author can delete a post.", status=403)
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        why = post_replies(post)
        if why:
            raise Refused(why, status=409)
        question = None if post.kind == Post.Kind.QUESTION else post.question
        post.delete()
        if question is not None and post.kind == Post.Kind.ANSWER:
            services.question_counts_refresh(question)
    return question
