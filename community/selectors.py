"""Reading the community's questions: lists (site-wide, per stage, per lesson) sorted and searched, one question's
thread, the new answers an open page polls for, and the counts on stage and lesson pages.

Every one of them goes through `community.visibility.visible_posts`, so a hidden post is gone from all of them for
everyone but moderators and its author.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, Count, FloatField, Prefetch, QuerySet, Subquery, Value, When, Window
from django.urls import reverse

from community.models import Post, Snapshot, Vote
from community.visibility import is_moderator, visible_posts
from lessons.models import Lesson, Node

PAGE_SIZE = 30
NEWEST_ON_STAGE = 3
RANK_CANDIDATES = 500
SORTS = {"newest": "Newest", "unanswered": "Unanswered", "votes": "Most voted"}
LIST_FIELDS = (
    "pk", "kind", "title", "score", "answer_count", "accepted_answer_id", "by_instructor", "created_at",
    "last_activity_at", "hidden_at", "locked_at", "author_id", "author__username", "node_id", "node__slug",
    "node__title", "lesson_id", "lesson__slug", "lesson__title", "lesson__node_id",
)  # fmt: skip


def search_vector() -> SearchVector:
    """The expression migration community 0002 indexes (GIN, for questions): keep the two in step."""
    return SearchVector("search_document", config="english")


def questions(
    *, user: User | AnonymousUser, node: Node | None = None, lesson: Lesson | None = None, sort: str = "newest",
    q: str = "",
) -> QuerySet[Post]:  # fmt: skip
    """The questions the user may see, of a stage or a lesson or all, searched by words and sorted.

    Sorts: newest first; unanswered (no visible answer yet) newest first; most voted. A search on PostgreSQL is
    full-text (English stemming, websearch syntax: "quoted phrases", -excluded, or) ranked by relevance (the
    newest RANK_CANDIDATES matches; older ones follow by date); on SQLite
    every word must appear in the title or body, newest first.
    """
    posts = Post.objects.filter(kind=Post.Kind.QUESTION)
    if lesson is not None:
        posts = posts.filter(lesson=lesson)
    elif node is not None:
        posts = posts.filter(node=node)
    posts = visible_posts(posts, user)
    if sort == "unanswered":
        posts = posts.filter(answer_count=0)
    order = ["-score", "-created_at", "-pk"] if sort == "votes" else ["-created_at", "-pk"]
    q = " ".join(q.replace("\x00", " ").split())[:200]
    if q and connection.vendor == "postgresql":
        query = SearchQuery(q, config="english", search_type="websearch")
        posts = posts.annotate(search=search_vector()).filter(search=query)
        # Ranking recomputes each match's vector (the index only finds them): it is done for the newest
        # RANK_CANDIDATES matches, which come first by relevance; any older match follows, newest first.
        candidates = posts.order_by("-created_at", "-pk").values("pk")[:RANK_CANDIDATES]
        rank = Case(
            When(pk__in=Subquery(candidates), then=SearchRank(search_vector(), query)),
            default=Value(0.0),
            output_field=FloatField(),
        )
        posts = posts.annotate(rank=rank)
        order = ["-score", "-rank", "-created_at", "-pk"] if sort == "votes" else ["-rank", "-created_at", "-pk"]
    elif q:
        for word in q.split()[:20]:
            posts = posts.filter(search_document__icontains=word.strip('"'))
    posts = posts.select_related("author", "node", "lesson").only(*LIST_FIELDS)
    return posts.order_by(*order)


@dataclass
class Thread:
    question: Post
    answers: list[Post]
    """Accepted first, then by score, then oldest."""
    comments: dict[int, list[Post]]
    """Each post's comments, oldest first, by the post's id."""
    my_votes: dict[int, int] = field(default_factory=dict)
    newest_answer_id: int = 0
    accepted: Post | None = None


_PK = 987654321


def _url_maker(name: str) -> Callable[[int], str]:
    """A post's URL of the `name` view, reversed once per page instead of once per post."""
    pattern = reverse(name, kwargs={"post_id": _PK})
    return lambda pk: pattern.replace(str(_PK), str(pk))


def decorate(posts: list[Post], comments: dict[int, list[Post]], my_votes: dict[int, int]) -> None:
    """Each post carries its comments, the reader's vote and its URLs, for templates that take one post at a time."""
    names = ("community:vote", "community:comment_create", "community:accept")
    vote_url, comment_url, accept_url = map(_url_maker, names)
    for post in posts:
        post.comment_list = comments.get(post.pk, [])
        post.my_vote = my_votes.get(post.pk, 0)
        # Set, not missing: a template's lookup of a missing attribute costs a dir() of the model instance.
        post.vote_error = getattr(post, "vote_error", "")
        post.comment_error = getattr(post, "comment_error", "")
        post.comment_draft = getattr(post, "comment_draft", "")
        post.is_accepted = getattr(post, "is_accepted", False)
        post.vote_url, post.comment_url = vote_url(post.pk), comment_url(post.pk)
        if post.kind == Post.Kind.ANSWER:
            post.accept_url = accept_url(post.pk)


def thread(*, question: Post, user: User | AnonymousUser) -> Thread:
    """The question's answers and comments the user may see, with the user's votes: three queries."""
    replies = list(visible_posts(Post.objects.filter(question=question), user).select_related("author"))
    by_pk = {post.pk: post for post in replies}
    comments: dict[int, list[Post]] = defaultdict(list)
    answers = []
    for post in replies:
        post.question = question
        if post.kind == Post.Kind.ANSWER:
            answers.append(post)
        elif post.parent_id == question.pk or post.parent_id in by_pk:
            comments[post.parent_id].append(post)
    my_votes: dict[int, int] = {}
    if user.is_authenticated:
        ids = [question.pk, *(answer.pk for answer in answers)]
        my_votes = dict(Vote.objects.filter(voter=user, post_id__in=ids).values_list("post_id", "value"))
    accepted_id = question.accepted_answer_id
    answers.sort(key=lambda a: (a.pk != accepted_id, -a.score, a.created_at, a.pk))
    decorate([question, *answers], comments, my_votes)
    for answer in answers:
        answer.is_accepted = answer.pk == accepted_id
    return Thread(
        question=question,
        answers=answers,
        comments=comments,
        my_votes=my_votes,
        newest_answer_id=max((a.pk for a in answers), default=0),
        accepted=by_pk.get(accepted_id),
    )


def question_for(*, post_id: int, user: User | AnonymousUser) -> Post | None:
    """The question with its author and snapshots, if the user may see it."""
    found = visible_posts(Post.objects.filter(pk=post_id, kind=Post.Kind.QUESTION), user)
    snapshots = Prefetch("snapshots", queryset=Snapshot.objects.order_by("pk"))
    return found.select_related("author", "node", "lesson").prefetch_related(snapshots).first()


@dataclass
class NewAnswers:
    answers: list[Post]
    hidden_ids: list[int]
    """Answers hidden by a moderator that this reader must no longer see (the page removes them if shown)."""
    newest_answer_id: int
    answer_count: int


def new_answers(*, question: Post, user: User | AnonymousUser, after: int) -> NewAnswers:
    """What an open question page polls for: the answers newer than the newest shown, with their comments."""
    shown = visible_posts(Post.objects.filter(question=question, kind=Post.Kind.ANSWER), user)
    answers = list(shown.filter(pk__gt=after).select_related("author").order_by("pk"))
    comments: dict[int, list[Post]] = defaultdict(list)
    my_votes: dict[int, int] = {}
    if answers:
        found = visible_posts(Post.objects.filter(parent__in=[a.pk for a in answers]), user).select_related("author")
        for comment in found:
            comments[comment.parent_id].append(comment)
        if user.is_authenticated:
            votes = Vote.objects.filter(voter=user, post_id__in=[a.pk for a in answers])
            my_votes = dict(votes.values_list("post_id", "value"))
    decorate(answers, comments, my_votes)
    for answer in answers:
        answer.question = question
        answer.is_accepted = answer.pk == question.accepted_answer_id
    hidden_ids: list[int] = []
    if not is_moderator(user):
        hidden = Post.objects.filter(question=question, kind=Post.Kind.ANSWER, hidden_at__isnull=False)
        if user.is_authenticated:
            hidden = hidden.exclude(author=user)
        hidden_ids = list(hidden.values_list("pk", flat=True))
    return NewAnswers(
        answers=answers,
        hidden_ids=hidden_ids,
        newest_answer_id=max([after, *(a.pk for a in answers)]),
        answer_count=question.answer_count,
    )


@dataclass
class StageQuestions:
    count: int
    newest: list[Post]


def node_questions(*, node: Node, user: User | AnonymousUser) -> StageQuestions:
    """How many questions the user may see about the stage, and the newest few: one query (a window count)."""
    posts = visible_posts(Post.objects.filter(kind=Post.Kind.QUESTION, node=node), user)
    newest = list(
        posts.annotate(total=Window(Count("pk")))
        .only("pk", "title", "answer_count", "accepted_answer_id", "score", "created_at", "hidden_at", "node_id")
        .order_by("-created_at", "-pk")[:NEWEST_ON_STAGE]
    )
    return StageQuestions(count=newest[0].total if newest else 0, newest=newest)


def lesson_question_count(*, lesson: Lesson, user: User | AnonymousUser) -> int:
    return visible_posts(Post.objects.filter(kind=Post.Kind.QUESTION, lesson=lesson), user).count()
