"""A SQLite database whose write lock another process holds: writes are refused quickly, /healthz says so."""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
        reason="a held SQLite write lock and SQLite's busy timeout; PostgreSQL locks rows, not the file",
    ),
]


@contextmanager
def _write_lock_held() -> Iterator[None]:
    """Another connection to the test database file holds it with BEGIN EXCLUSIVE, as a stuck writer would."""
    other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def held_write_lock(transactional_db: None) -> Iterator[None]:
    with _write_lock_held():
        yield


def test_the_busy_timeout_is_short() -> None:
    assert settings.DATABASES["default"]["OPTIONS"]["timeout"] <= 5


def test_a_form_posted_while_the_database_is_locked_answers_503_and_saves_nothing(held_write_lock: None) -> None:
    client = Client(raise_request_exception=False)
    passphrase = "a long passphrase 42"
    started = time.monotonic()
    response = client.post(reverse("signup"), {"username": "newbie", "password1": passphrase, "password2": passphrase})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "The database is busy; nothing was saved. Try again in a moment." in response.content.decode()
    assert response["Retry-After"]
    assert elapsed < 7
    assert not User.objects.exists()


def test_a_signed_in_learner_gets_the_refusal_as_json_when_asking_for_json(learner: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(learner)
    new = "another fine phrase 7"
    form = {"old_password": "correct horse battery", "new_password1": new, "new_password2": new}
    with _write_lock_held():
        response = client.post(reverse("password_change"), form, HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json() == {
        "error": "The database is busy; nothing was saved. Try again in a moment.",
        "status": 503,
    }
    learner.refresh_from_db()
    assert learner.check_password("correct horse battery")


def test_healthz_reports_a_locked_database_as_busy_within_two_seconds(held_write_lock: None, client: Client) -> None:
    started = time.monotonic()
    response = client.get(reverse("healthz"))
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json()["database"] == "busy"
