"""Issue 14's speed targets for the community: a question page with 100 answers (each with a comment or two) and a
stage's question list with 1,000 questions in <= 100 ms median, and a search over 10,000 posts in <= 200 ms.

A throw-away SQLite database (or DATABASE_URL) gets the course from lessons/content and 200 learners; 10,000
questions are bulk-created, 1,000 of them on the first stage and the rest spread over the others, each a title and
a body of 30 to 80 words drawn from an MLOps vocabulary (and its plain words as `search_document`, as the service
sets it); one in fifty is hidden by a moderator. One question on the first stage gets 100 answers posted through
the service (Markdown rendered and sanitized, a code block in every third), each with one or two comments, votes
and an accepted answer.

Requests go through Django's full stack with the test client, in this process, signed in as a learner (not a
moderator, so every list goes through the hidden-post filter): the question page, the stage's list (its first page
of 30, newest first) and the site-wide search for a few queries in turn (a common word, a rarer one, two words and
a phrase). Each is loaded a few times to warm up, then the three take turns `--renders` times; the median is the
figure. On PostgreSQL the search's plan is printed, and whether it uses the GIN index of migration community 0002.

    .venv/bin/python benchmarks/community.py [--renders 30] [--questions 10000]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import datetime as dt
import random
import statistics
import time

from _setup import django_ready, report

WORDS = (
    "model endpoint deployment request drift report gate promotion registry version run experiment metric f1 "
    "accuracy recall precision threshold feature pipeline training dataset split validation test seed parameter "
    "monitoring alert latency error schema signature shadow canary rollback traffic batch label prediction "
    "baseline retraining column distribution psi wasserstein token serving container docker kubernetes queue "
    "worker celery redis postgres cache timeout memory cpu notebook sklearn logistic forest boosting tuning grid "
    "cross fold leakage imbalance churn customer contract tenure charges missing values encoding scaling"
)
VOCABULARY = WORDS.split()
SEARCHES = ("drift", "wasserstein rollback", "shadow canary latency", '"promotion gate"')


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(low, high)))


def build(questions: int) -> tuple[object, object, object]:
    """The reader, the first stage, and the question with 100 answers."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone

    from community import services
    from community.models import Post
    from lessons.models import Node
    from lessons.services import content_sync

    content_sync()
    rng = random.Random(14)
    instructor = User.objects.create_user(username="instructor")
    instructor.groups.add(Group.objects.get(name="Instructors"))
    User.objects.bulk_create(User(username=f"learner-{n:03d}") for n in range(200))
    learners = list(User.objects.filter(username__startswith="learner-").order_by("username"))
    nodes = list(Node.objects.order_by("order"))
    first, others = nodes[0], nodes[1:] or nodes
    now = timezone.now()
    posts = []
    for n in range(questions):
        node = first if n < min(1000, questions) else others[n % len(others)]
        title = _words(rng, 4, 10).capitalize() + "?"
        body = _words(rng, 30, 80) + "."
        hidden = rng.random() < 0.02
        posts.append(
            Post(
                kind=Post.Kind.QUESTION, author=rng.choice(learners), node=node, title=title, body=body,
                body_html=f"<p>{body}</p>", search_document=f"{title} {body}", score=rng.randint(-2, 12),
                answer_count=rng.choice([0, 0, 1, 2, 3]), hidden_at=now if hidden else None,
                hidden_by=instructor if hidden else None,
            )
        )  # fmt: skip
    created = Post.objects.bulk_create(posts, batch_size=2000)
    # Spread over the last 60 days, so that newest first is a real order.
    for index, post in enumerate(created):
        post.created_at = post.last_activity_at = now - dt.timedelta(minutes=index * 8.6)
    Post.objects.bulk_update(created, ["created_at", "last_activity_at"], batch_size=2000)
    asker = learners[0]
    question = services.question_ask(
        author=asker, node=first, title="Why does my endpoint answer 400 for a single row?",
        body="Posting one row fails:\n\n```python\nrequests.post(url, json={'rows': [row]})\n```",
    )  # fmt: skip
    authors = learners[1:]
    answers = []
    for n in range(100):
        code = "\n\n```python\nclient.post('/invocations', json={'dataframe_records': rows})\n```" if n % 3 == 0 else ""
        body = f"Answer {n}: {_words(rng, 25, 60)}.{code}"
        # The services' hourly limit is per author: each answer and comment comes from a different learner.
        answers.append(services.answer_post(author=authors[n], question=question, body=body))
    comment_authors = iter(authors[100:] * 3)
    for answer in answers:
        for _ in range(rng.randint(1, 2)):
            services.comment_post(author=next(comment_authors), parent=answer, body=f"Thanks, {_words(rng, 8, 20)}.")
    for n, answer in enumerate(answers[:60]):
        # Voters in turn, as the per-minute limit wants: three votes each.
        services.vote_cast(voter=learners[150 + n // 3], post=answer, value=1 if rng.random() < 0.8 else -1)
    services.answer_accept(user=asker, answer=answers[17])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) community_post")
    reader = learners[-1]
    return reader, first, question


def search_plan(q: str) -> str:
    """PostgreSQL's plan for the list's search query (the page's query, not its count)."""
    from django.contrib.auth.models import User
    from django.db import connection

    from community import selectors

    reader = User.objects.filter(username__startswith="learner-").last()
    queryset = selectors.questions(user=reader, q=q)[: selectors.PAGE_SIZE]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30, help="timed loads of each page")
    parser.add_argument("--questions", type=int, default=10_000, help="questions in the database")
    args = parser.parse_args()
    for name in ("renders", "questions"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    django_ready()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from community.models import Post

    started = time.perf_counter()
    reader, stage, question = build(args.questions)
    total = Post.objects.count()
    print(f"built {total:,} posts in {time.perf_counter() - started:.0f} s")
    client = Client()
    client.force_login(reader)
    page_url = reverse("community:question", kwargs={"post_id": question.pk})
    list_url = reverse("community:question_list") + f"?node={stage.slug}"
    searches = iter(SEARCHES * (args.renders + 10))

    def get(url: str) -> int:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return len(response.content)

    calls = {
        "page": lambda: get(page_url),
        "list": lambda: get(list_url),
        "search": lambda: get(reverse("community:question_list") + "?" + _query(next(searches))),
    }
    for call in calls.values():
        for _ in range(3):
            call()
    counts = {}
    for name, call in calls.items():
        with CaptureQueriesContext(connection) as captured:
            size = call()
        counts[name] = (len(captured.captured_queries), size)
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.renders):
        for name, call in calls.items():
            begun = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - begun) * 1000)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    answers = Post.objects.filter(question=question, kind="answer").count()
    comments = Post.objects.filter(question=question, kind="comment").count()
    on_stage = Post.objects.filter(kind="question", node=stage).count()
    print(f"database: {engine}; question with {answers} answers and {comments} comments; {on_stage:,} on the stage")
    for name, values in timings.items():
        queries, size = counts[name]
        print(
            f"{name:<7} median {statistics.median(values):6.1f} ms, min {min(values):6.1f}, max {max(values):6.1f}; "
            f"{queries} queries, {size / 1024:.0f} KB"
        )
    print(f"of the page, the moderation controls of its {answers + comments + 1} posts: {controls_cost(calls['page'])}")
    if connection.vendor == "postgresql":
        plan = search_plan(SEARCHES[1])
        print(plan)
        print("search uses the GIN index:", "community_post_search_gin" in plan)
    report("community question page 100 answers", statistics.median(timings["page"]), "ms")
    report("community stage list 1000 questions", statistics.median(timings["list"]), "ms")
    report(f"community search {total // 1000 * 1000} posts", statistics.median(timings["search"]), "ms")


def controls_cost(call: object, count: int = 10) -> str:
    """How much of the question page the moderation controls' include costs: the page timed without it."""
    from django.template import loader_tags

    render = loader_tags.IncludeNode.render

    def without_controls(node: loader_tags.IncludeNode, context: object) -> str:
        return "" if "moderation_controls" in str(node.template.var) else render(node, context)

    loader_tags.IncludeNode.render = without_controls
    try:
        timings = []
        for _ in range(count):
            begun = time.perf_counter()
            call()
            timings.append((time.perf_counter() - begun) * 1000)
    finally:
        loader_tags.IncludeNode.render = render
    return f"the page without them in {statistics.median(timings):.1f} ms median"


def _query(q: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": q})


if __name__ == "__main__":
    main()
