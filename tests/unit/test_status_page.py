import time

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _check(html: str, key: str) -> str:
    start = html.index(f'data-check="{key}"')
    return html[start : html.index("</section>", start)]


def test_the_footer_links_to_the_readable_status_page(client: object) -> None:
    html = client.get(reverse("home")).content.decode()
    assert f'<a href="{reverse("status")}">Status</a>' in html


def test_the_status_page_is_html_for_anyone_and_never_cached(client: object, closed_redis_url: str) -> None:
    response = client.get(reverse("status"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]
    html = response.content.decode()
    assert "<h1>Status</h1>" in html
    assert 'data-check="database" data-state="ok"' in html
    assert "SQLite file test_db.sqlite3" in html


def test_with_redis_down_it_says_so_and_what_to_do_quickly(client: object, closed_redis_url: str) -> None:
    started = time.monotonic()
    response = client.get(reverse("status"))
    elapsed = time.monotonic() - started
    html = response.content.decode()
    broker = _check(html, "broker")
    assert 'data-state="problem"' in broker
    assert "Down" in broker
    assert "<code>make run</code> starts an embedded Redis when none answers at <code>REDIS_URL</code>" in broker
    port = closed_redis_url.rsplit(":", 1)[1].split("/")[0]
    assert f"127.0.0.1:{port}, database 0" in broker
    workers = _check(html, "workers")
    assert 'data-state="skipped"' in workers
    assert "Not asked, because Redis does not answer." in workers
    assert "Broker (Redis)" in html.split('role="alert"', 1)[1].split("</p>", 1)[0]
    assert elapsed < 2


def test_with_redis_up_and_no_worker_it_says_how_to_start_one(
    client: object, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mlopslab.views.redis_problem", lambda url, **kwargs: None)
    asked = []
    monkeypatch.setattr("mlopslab.views.workers_answering", lambda app, **kwargs: asked.append(kwargs) or [])
    workers = _check(client.get(reverse("status")).content.decode(), "workers")
    assert asked == [{"timeout": 1.0}]
    assert 'data-state="problem"' in workers
    assert "No worker answered a ping within 1 s" in workers
    assert "<code>.venv/bin/celery -A mlopslab worker</code>" in workers


def test_it_shows_no_password_of_the_broker_url(
    client: object, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REDIS_URL = "redis://learner:hunter2-secret@127.0.0.1:1/3"
    monkeypatch.setattr("mlopslab.views.redis_problem", lambda url, **kwargs: f"cannot reach {url}")
    html = client.get(reverse("status")).content.decode()
    assert "cannot reach redis://learner:********@127.0.0.1:1/3" in html
    assert "hunter2-secret" not in html
    assert "127.0.0.1:1, database 3" in html


def test_with_the_database_down_a_signed_in_visitor_still_gets_the_page(
    client: object, learner: User, closed_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.force_login(learner)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("unable to open database file")

    # Every query, the session's and the navigation's included, now fails as a lost database would.
    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get(reverse("status"))
    monkeypatch.undo()
    assert response.status_code == 200
    database = _check(response.content.decode(), "database")
    assert 'data-state="problem"' in database
    assert "unable to open database file" in database
    assert "check <code>DATABASE_URL</code>" in database


def test_healthz_stays_json_for_machines(client: object, closed_redis_url: str) -> None:
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"database", "redis", "seconds"}
