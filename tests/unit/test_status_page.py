import sqlite3
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from django.urls import reverse

# Not inside a test transaction: that would hold the write lock the database check asks for.
pytestmark = pytest.mark.django_db(transaction=True)

SQLITE = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


@pytest.fixture
def staff_client(django_user_model: type) -> Client:
    staff = Client()
    staff.force_login(django_user_model.objects.create_user(username="ops", password="x-ops-pass-9", is_staff=True))
    return staff


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
    assert "Answers queries." in html
    assert "test_db.sqlite3" not in html


def test_where_each_part_is_and_what_its_driver_said_is_for_staff_only(
    client: object, staff_client: object, learner: User, closed_redis_url: str
) -> None:
    port = closed_redis_url.rsplit(":", 1)[1].split("/")[0]
    client.force_login(learner)
    for html in (client.get(reverse("status")).content.decode(), Client().get(reverse("status")).content.decode()):
        assert "test_db.sqlite3" not in html
        assert f":{port}" not in html
        assert "Connection refused" not in html
        assert "Not working; the server log has the reason." in _check(html, "broker")
    html = staff_client.get(reverse("status")).content.decode()
    assert ("SQLite file test_db.sqlite3" if SQLITE else "PostgreSQL at 127.0.0.1:") in _check(html, "database")
    broker = _check(html, "broker")
    assert f"127.0.0.1:{port}, database 0" in broker
    assert "Connection refused" in broker


def test_with_redis_down_it_says_so_and_what_to_do_quickly(staff_client: object, closed_redis_url: str) -> None:
    started = time.monotonic()
    response = staff_client.get(reverse("status"))
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
    monkeypatch.setattr("mlopslab.health.redis_problem", lambda url, **kwargs: None)
    asked = []
    monkeypatch.setattr("mlopslab.views.workers_answering", lambda app, **kwargs: asked.append(kwargs) or [])
    workers = _check(client.get(reverse("status")).content.decode(), "workers")
    assert asked == [{"timeout": 1.0}]
    assert 'data-state="problem"' in workers
    assert "No worker answered a ping within 1 s" in workers
    assert "<code>.venv/bin/celery -A mlopslab worker</code>" in workers


def test_it_shows_no_password_of_the_broker_url_even_to_staff(
    staff_client: object, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REDIS_URL = "redis://learner:hunter2-secret@127.0.0.1:1/3"
    monkeypatch.setattr("mlopslab.health.redis_problem", lambda url, **kwargs: f"cannot reach {url}")
    html = staff_client.get(reverse("status")).content.decode()
    assert "cannot reach redis://learner:********@127.0.0.1:1/3" in html
    assert "hunter2-secret" not in html
    assert "127.0.0.1:1, database 3" in html


def test_with_the_database_down_a_signed_in_visitor_still_gets_the_page(
    staff_client: object, closed_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("unable to open database file")

    # Every query in every thread, the session's and the navigation's included, now fails as a lost
    # database would; with it goes knowing that the visitor is staff, so no detail is shown.
    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = staff_client.get(reverse("status"))
    monkeypatch.undo()
    assert response.status_code == 200
    database = _check(response.content.decode(), "database")
    assert 'data-state="problem"' in database
    assert "Not working; the server log has the reason." in database
    assert "unable to open database file" not in database
    assert "check <code>DATABASE_URL</code>" in database


@pytest.mark.skipif(not SQLITE, reason="a held SQLite write lock; PostgreSQL locks rows, not the file")
def test_a_locked_database_is_shown_as_busy_with_what_to_do(closed_redis_url: str) -> None:
    other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        database = _check(Client().get(reverse("status")).content.decode(), "database")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert 'data-state="problem"' in database
    assert "Another process holds the write lock" in database
    assert "a shell left in a transaction" in database


def test_healthz_stays_json_for_machines(client: object, closed_redis_url: str) -> None:
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"database", "redis", "workers", "seconds"}
