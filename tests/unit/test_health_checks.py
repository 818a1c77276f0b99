"""/healthz under database faults: a SQLite file that is gone, a PostgreSQL that accepts and never answers.

Each fault is set up for a fresh Django process (its own DATABASE_URL), which asks /healthz through the
test client and prints what it got and how long it took.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ASK_HEALTHZ = """
import json, time
import django
django.setup()
from django.test import Client
started = time.monotonic()
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json(), "elapsed": time.monotonic() - started}))
"""


def _healthz_in_a_fresh_process(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", ASK_HEALTHZ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "mlopslab.settings",
            "ALLOWED_HOSTS": "testserver",
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:1/0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never says a word, as a hung database server does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in held:
        connection.close()


def _migrated_sqlite_file(path: Path) -> Path:
    """A database file with the migrations table, which is what the health check reads."""
    with sqlite3.connect(path) as database:
        database.execute("CREATE TABLE django_migrations (id integer PRIMARY KEY, app text, name text, applied text)")
    return path


def test_a_sqlite_file_that_is_gone_is_reported_and_not_ok(tmp_path: Path) -> None:
    database = _migrated_sqlite_file(tmp_path / "db.sqlite3")
    url = f"sqlite:///{database}"
    before = _healthz_in_a_fresh_process(tmp_path, DATABASE_URL=url)
    assert before["body"]["database"] == "ok"

    database.rename(tmp_path / "moved.sqlite3")
    after = _healthz_in_a_fresh_process(tmp_path, DATABASE_URL=url)
    assert after["status"] == 503
    assert after["body"]["database"] == "error"
    assert after["elapsed"] < 2


def test_a_postgresql_that_never_answers_is_timed_out_within_two_seconds(tmp_path: Path, silent_server: int) -> None:
    # Redis on the same silent port: both checks hang, and both must still be answered in time.
    answer = _healthz_in_a_fresh_process(
        tmp_path,
        DATABASE_URL=f"postgres://lab:hunter2-secret@127.0.0.1:{silent_server}/lab",
        REDIS_URL=f"redis://127.0.0.1:{silent_server}/0",
    )
    assert answer["status"] == 503
    assert answer["body"]["database"] == "timed out"
    assert answer["body"]["redis"] in {"error", "timed out"}
    assert answer["elapsed"] < 2
    assert answer["body"]["seconds"] < 2
    assert "hunter2" not in json.dumps(answer)


@pytest.mark.django_db(transaction=True)
def test_healthz_tells_anyone_the_state_and_only_staff_and_the_log_the_detail(
    client: object, django_user_model: type, closed_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_redis_url.rsplit(":", 1)[1].split("/")[0]
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json()["redis"] == "error"
    assert anonymous.json()["database"] == "ok"
    assert "detail" not in anonymous.json()
    assert f":{port}" not in anonymous.content.decode()
    assert any(f"127.0.0.1:{port}" in record.getMessage() for record in caplog.records)

    django_user_model.objects.create_user(username="learner", password="correct horse battery")
    client.login(username="learner", password="correct horse battery")
    assert "detail" not in client.get("/healthz").json()

    staff = django_user_model.objects.create_user(username="ops", password="correct horse battery", is_staff=True)
    client.force_login(staff)
    detail = client.get("/healthz").json()["detail"]
    assert set(detail) == {"redis"}
    assert f"127.0.0.1:{port}" in detail["redis"]
