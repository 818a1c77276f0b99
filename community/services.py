"""Posting, voting and accepting in the community's questions and answers.

Every rule is checked here, before anything is written: a refused post, vote or accept raises `Refused` having
saved nothing. A post's Markdown is rendered once, on save, through `community.markdown.render_post`, and its
plain words are kept in `search_document` for search.
"""

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags

from community.markdown import render_post
from community.models import BODY_MAX, TITLE_MAX, Notification, Post, Snapshot, Vote
from community.visibility import can_see
from lessons.models import Lesson, Node
from lessons.selectors import is_author
from mlopslab.refusals import Refused

POSTS_PER_HOUR = 10
VOTES_PER_MINUTE = 20
MIN_WORDS_BESIDES_LINKS = 3

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_AUTOLINK = re.compile(r"<[a-z][a-z0-9+.-]*:[^>\s]*>", re.IGNORECASE)
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)\S+", re.IGNORECASE)
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_WORD = re.compile(r"[^\W_]{2,}|\d")


def words_besides_links(body: str) -> int:
    """How many words the body has once its URLs and Markdown link syntax are taken out (link texts too)."""
    text = _REFERENCE.sub(" ", body)
    text = _MARKDOWN_LINK.sub(" ", text)
    text = _AUTOLINK.sub(" ", text)
    text = _URL.sub(" ", text)
    return len(_WORD.findall(text))


def plain_words(title: str, body_html: str) -> str:
    """The title and the rendered body as plain text, what search matches."""
    text = html.unescape(strip_tags(body_html))
    return " ".join(f"{title}\n{text}".split())


def _clean(text: str) -> str:
    return text.replace("\x00", "").strip()


def title_check(title: str) -> str:
    """The question's title as kept, or `Refused` (422): asking and editing a post check it alike."""
    title = " ".join(_clean(title).split())
    if not title:
        raise Refused("Give your question a title.", status=422)
    if len(title) > TITLE_MAX:
        raise Refused(f"The title is {len(title):,} characters long: keep it to {TITLE_MAX}.", status=422)
    return title


def body_check(body: str, *, what: str) -> str:
    """The post's body as kept, or `Refused` (422) when empty, too long or only links; asking, answering,
    commenting and editing check it alike."""
    body = _clean(body)
    if not body:
        raise Refused(f"Your {what} is empty: write something first.", status=422)
    if len(body) > BODY_MAX:
        raise Refused(f"Your {what} is {len(body):,} characters long: keep it to {BODY_MAX:,}.", status=422)
    if words_besides_links(body) < MIN_WORDS_BESIDES_LINKS:
        raise Refused(
            f"Your {what} is only links: say in a few words of your own what they are and why they help.", status=422
        )
    return body


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _check_post_rate(author: User, now: dt.datetime) -> None:
    """At most POSTS_PER_HOUR posts (of any kind) per author in any rolling hour."""
    recent = list(
        Post.objects.filter(author=author, created_at__gt=now - dt.timedelta(hours=1))
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:POSTS_PER_HOUR]
    )
    if len(recent) >= POSTS_PER_HOUR:
        again = recent[-1] + dt.timedelta(hours=1)
        raise Refused(
            f"You have written {POSTS_PER_HOUR} posts in the last hour, the most there can be. "
            f"You can post again at {_when(again)} ({timezone.get_current_timezone_name()}).",
            status=429,
        )


def _lock_author(author: User) -> None:
    """Serialize one author's posts (or votes), so two at once cannot both slip under a limit."""
    list(User.objects.select_for_update().filter(pk=author.pk).values_list("pk", flat=True))


def _notify(recipients: Iterable[int | None], *, kind: str, post: Post, actor: User, message: str) -> None:
    seen: set[int] = set()
    rows = []
    for recipient in recipients:
        if recipient is None or recipient == actor.pk or recipient in seen:
            continue
        seen.add(recipient)
        rows.append(Notification(recipient_id=recipient, kind=kind, post=post, actor=actor, message=message[:300]))
    Notification.objects.bulk_create(rows)


def _writable_question(question: Post, user: User) -> None:
    if question.kind != Post.Kind.QUESTION or not can_see(question, user):
        raise Refused("That question does not exist.", status=404)
    if question.locked:
        raise Refused("This question is locked: it takes no new answers or comments.", status=403)


def post_text_set(post: Post, *, title: str, body: str) -> None:
    """Give the post its text and what is derived from it: the sanitized HTML and the words search matches."""
    post.title, post.body = title, body
    post.body_html = render_post(body)
    post.search_document = plain_words(title, post.body_html)


def _new_post(**fields: object) -> Post:
    post = Post(**fields)
    post_text_set(post, title=post.title, body=post.body)
    post.save()
    return post


def question_ask(
    *,
    author: User,
    title: str,
    body: str,
    node: Node | None = None,
    lesson: Lesson | None = None,
    snapshots: Sequence[Snapshot] = (),
) -> Post:
    """A new question, with the sandbox snapshots taken for it (unsaved, no post yet) saved in the same transaction."""
    title = title_check(title)
    body = body_check(body, what="question")
    if lesson is not None:
        if node is None:
            node = lesson.node
        elif lesson.node_id != node.pk:
            raise Refused(f"The lesson “{lesson.title}” is not part of the stage “{node.title}”.", status=422)
    with transaction.atomic():
        _lock_author(author)
        now = timezone.now()
        _check_post_rate(author, now)
        question = _new_post(
            kind=Post.Kind.QUESTION, author=author, title=title, body=body, node=node, lesson=lesson,
            by_instructor=is_author(author),
        )  # fmt: skip
        for snapshot in snapshots:
            snapshot.post = question
            snapshot.save()
    return question


def answer_post(*, author: User, question: Post, body: str) -> Post:
    body = body_check(body, what="answer")
    with transaction.atomic():
        question = Post.objects.select_for_update().get(pk=question.pk)
        _writable_question(question, author)
        _lock_author(author)
        now = timezone.now()
        _check_post_rate(author, now)
        answer = _new_post(
            kind=Post.Kind.ANSWER, author=author, question=question, body=body, by_instructor=is_author(author)
        )
        Post.objects.filter(pk=question.pk).update(answer_count=F("answer_count") + 1, last_activity_at=now)
        _notify(
            [question.author_id], kind=Notification.Kind.ANSWER, post=answer, actor=author,
            message=f"{author.username} answered your question “{question.title}”.",
        )  # fmt: skip
    return answer


def comment_post(*, author: User, parent: Post, body: str) -> Post:
    """A comment on a question or an answer (comments are not commented on)."""
    body = body_check(body, what="comment")
    if parent.kind == Post.Kind.COMMENT or not can_see(parent, author):
        raise Refused("That post takes no comments.", status=404)
    with transaction.atomic():
        question = parent if parent.kind == Post.Kind.QUESTION else parent.question
        question = Post.objects.select_for_update().get(pk=question.pk)
        _writable_question(question, author)
        _lock_author(author)
        now = timezone.now()
        _check_post_rate(author, now)
        comment = _new_post(
            kind=Post.Kind.COMMENT, author=author, question=question, parent=parent, body=body,
            by_instructor=is_author(author),
        )  # fmt: skip
        Post.objects.filter(pk=question.pk).update(last_activity_at=now)
        on = "your question" if parent.kind == Post.Kind.QUESTION else "your answer to"
        _notify(
            [parent.author_id], kind=Notification.Kind.COMMENT, post=comment, actor=author,
            message=f"{author.username} commented on {on} “{question.title}”.",
        )  # fmt: skip
        if parent.kind == Post.Kind.ANSWER:
            _notify(
                [question.author_id] if question.author_id != parent.author_id else [],
                kind=Notification.Kind.COMMENT, post=comment, actor=author,
                message=f"{author.username} commented on an answer to your question “{question.title}”.",
            )  # fmt: skip
    return comment


def vote_cast(*, voter: User, post: Post, value: int) -> int:
    """Vote a question or an answer up (+1) or down (-1); the same vote again takes it back, the other changes it.
    Returns the voter's vote now (0 when taken back)."""
    if value not in (1, -1):
        raise Refused("Vote up or down.", status=400)
    if post.kind == Post.Kind.COMMENT or not can_see(post, voter):
        raise Refused("That post takes no votes.", status=404)
    if post.author_id == voter.pk:
        raise Refused("You cannot vote on your own post.", status=403)
    with transaction.atomic():
        _lock_author(voter)
        now = timezone.now()
        recent = list(
            Vote.objects.filter(voter=voter, created_at__gt=now - dt.timedelta(minutes=1))
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:VOTES_PER_MINUTE]
        )
        existing = Vote.objects.select_for_update().filter(post=post, voter=voter).first()
        taking_back = existing is not None and existing.value == value
        if len(recent) >= VOTES_PER_MINUTE and not taking_back:
            again = recent[-1] + dt.timedelta(minutes=1)
            raise Refused(
                f"You have voted {VOTES_PER_MINUTE} times in the last minute, the most there can be. "
                f"You can vote again at {timezone.localtime(again):%H:%M:%S}.",
                status=429,
            )
        if taking_back:
            existing.delete()
            change, now_value = -value, 0
        elif existing is not None:
            change, now_value = value - existing.value, value
            Vote.objects.filter(pk=existing.pk).update(value=value, created_at=now)
        else:
            Vote.objects.create(post=post, voter=voter, value=value)
            change, now_value = value, value
        Post.objects.filter(pk=post.pk).update(score=F("score") + change)
    return now_value


def answer_accept(*, user: User, answer: Post) -> Post | None:
    """The asker accepts an answer (another accepted before is no longer); accepting it again takes it back.
    Returns the accepted answer now."""
    if answer.kind != Post.Kind.ANSWER or not can_see(answer, user):
        raise Refused("That answer does not exist.", status=404)
    if answer.hidden:
        raise Refused("A hidden answer cannot be accepted.", status=403)
    with transaction.atomic():
        question = Post.objects.select_for_update().get(pk=answer.question_id)
        if question.author_id != user.pk:
            raise Refused("Only the person who asked can accept an answer.", status=403)
        if question.accepted_answer_id == answer.pk:
            Post.objects.filter(pk=question.pk).update(accepted_answer=None)
            return None
        Post.objects.filter(pk=question.pk).update(accepted_answer=answer)
        _notify(
            [answer.author_id], kind=Notification.Kind.ACCEPTED, post=answer, actor=user,
            message=f"{user.username} accepted your answer to “{question.title}”.",
        )  # fmt: skip
    return answer


def question_counts_refresh(question: Post) -> None:
    """Count the question's visible answers again: H2's moderation calls it after hiding, restoring or deleting
    an answer. (A hidden accepted answer stays accepted, shown to nobody but moderators and its author, and is
    back in place once restored.)"""
    count = Post.objects.filter(question=question, kind=Post.Kind.ANSWER, hidden_at__isnull=True).count()
    Post.objects.filter(pk=question.pk).update(answer_count=count)
    question.answer_count = count
