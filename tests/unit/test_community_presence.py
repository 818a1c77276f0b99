"""Who is here: a signed-in visit is recorded at most once a minute (and the stage when it is a stage page), the
header counts those seen in the last five minutes, and a stage page names who else is on it, never the hidden."""

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import OperationalError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from community import presence
from community.models import Presence
from lessons.models import Node, NodeProgress

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _nothing_remembered() -> Iterator[None]:
    presence.presence_forget()
    yield
    presence.presence_forget()


@pytest.fixture
def first(course: object) -> Node:
    return Node.objects.get(slug="first")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The monotonic clock the middleware compares against, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(presence.time, "monotonic", lambda: now[0])
    return now


def _presence_writes(queries: CaptureQueriesContext) -> list[str]:
    sqls = [query["sql"] for query in queries.captured_queries]
    return [sql for sql in sqls if "community_presence" in sql and not sql.startswith("SELECT")]


def _seen(user: User, minutes_ago: float, node: Node | None = None, *, hidden: bool = False) -> None:
    Presence.objects.update_or_create(
        user=user,
        defaults={"last_seen_at": timezone.now() - dt.timedelta(minutes=minutes_ago), "node": node, "hidden": hidden},
    )


def test_a_visit_is_written_at_most_once_a_minute(learner_client: Client, learner: User, clock: list[float]) -> None:
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert learner_client.get(reverse("lessons:map")).status_code == 200
    assert len(_presence_writes(queries)) == 2  # the UPDATE that finds no row, then the INSERT
    first_seen = Presence.objects.get(user=learner).last_seen_at
    clock[0] += 59
    with CaptureQueriesContext(connection) as queries:
        learner_client.get(reverse("lessons:map"))
    assert _presence_writes(queries) == []
    clock[0] += 2
    with CaptureQueriesContext(connection) as queries:
        learner_client.get(reverse("lessons:map"))
    assert len(_presence_writes(queries)) == 1
    assert Presence.objects.get(user=learner).last_seen_at > first_seen


def test_a_stage_page_records_the_stage_and_another_stage_is_written_at_once(
    learner_client: Client, learner: User, first: Node, clock: list[float]
) -> None:
    second = Node.objects.get(slug="second")
    NodeProgress.objects.create(user=learner, node=first, completed_at=timezone.now())
    learner_client.get(reverse("lessons:map"))
    assert Presence.objects.get(user=learner).node is None
    assert learner_client.get(reverse("lessons:node", args=[first.slug])).status_code == 200
    assert Presence.objects.get(user=learner).node == first
    learner_client.get(reverse("lessons:map"))  # not a stage page: the stage stays
    assert Presence.objects.get(user=learner).node == first
    assert learner_client.get(reverse("lessons:lesson", args=[second.slug, "intro"])).status_code == 200
    assert Presence.objects.get(user=learner).node == second


def test_an_anonymous_visit_writes_nothing(client: Client, course: object) -> None:
    client.get(reverse("home"))
    assert not Presence.objects.exists()


def test_active_now_counts_the_last_five_minutes_and_is_cached(
    learner: User, other_learner: User, django_user_model: type
) -> None:
    _seen(learner, 4.5)
    _seen(other_learner, 6)
    _seen(django_user_model.objects.create_user(username="hidden"), 1, hidden=True)
    assert presence.active_now() == 2  # a hidden person is counted, never named
    _seen(other_learner, 0)
    with CaptureQueriesContext(connection) as queries:
        assert presence.active_now() == 2
    assert len(queries.captured_queries) == 0


def test_the_header_says_how_many_are_active(learner_client: Client, other_learner: User, course: object) -> None:
    _seen(other_learner, 1)
    assert "1 active now" in learner_client.get(reverse("lessons:map")).content.decode()
    cache.delete(presence.ACTIVE_CACHE_KEY)  # 30 s later: the viewer's own visit, written after their first page
    assert "2 active now" in learner_client.get(reverse("lessons:map")).content.decode()


def test_a_stage_page_names_who_else_is_on_it_but_never_the_hidden_or_the_viewer(
    learner_client: Client, learner: User, first: Node, django_user_model: type
) -> None:
    for n in range(10):
        user = django_user_model.objects.create_user(username=f"peer{n}", first_name="Ada <b>" if n == 0 else "")
        _seen(user, 0.1 * n, first)
    _seen(django_user_model.objects.create_user(username="shy"), 0, first, hidden=True)
    _seen(django_user_model.objects.create_user(username="gone"), 7, first)
    _seen(django_user_model.objects.create_user(username="elsewhere"), 0, Node.objects.get(slug="second"))
    html = learner_client.get(reverse("lessons:node", args=[first.slug])).content.decode()
    assert "Ada &lt;b&gt;, peer1, peer2" in html
    assert "peer7 and 2 others." in html
    for absent in ("shy", "gone", "elsewhere", "peer8", "ada,"):
        assert absent not in html, absent


def test_the_selector_leaves_out_the_viewer(learner: User, other_learner: User, first: Node) -> None:
    _seen(learner, 0, first)
    _seen(other_learner, 0, first)
    here = presence.stage_presence(node_id=first.pk, viewer=learner)
    assert (here.names, here.others) == (["grace"], 0)


def test_the_setting_hides_a_learner_from_who_is_here(
    learner_client: Client, learner: User, other_learner: User, first: Node
) -> None:
    url = reverse("community:settings")
    assert learner_client.get(url).status_code == 200
    assert learner_client.post(url, {"hidden": "on"}).status_code == 302
    assert Presence.objects.get(user=learner).hidden
    _seen(learner, 0, first, hidden=True)
    assert presence.stage_presence(node_id=first.pk, viewer=other_learner).names == []
    learner_client.post(url, {})
    assert not Presence.objects.get(user=learner).hidden


def test_the_header_counts_who_is_active_and_says_nothing_when_the_database_cannot(
    learner_client: Client, closed_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = learner_client
    assert re.search(r"\d+ active now", client.get(reverse("lessons:glossary")).content.decode())
    presence.presence_forget()

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = client.get(reverse("status"))
    monkeypatch.undo()
    assert response.status_code == 200
    assert "active now" not in response.content.decode()
