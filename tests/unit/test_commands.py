import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from lessons.models import Lesson

pytestmark = pytest.mark.django_db


def test_prepare_loads_the_course_and_creates_demo_users_once_in_development(settings: object) -> None:
    settings.DEBUG = True
    out = io.StringIO()
    call_command("prepare", stdout=out)
    assert Lesson.objects.count() >= 25
    assert set(User.objects.values_list("username", flat=True)) == {"learner", "instructor"}
    assert User.objects.get(username="instructor").has_perm("lessons.author_content")
    assert "password" in out.getvalue()
    again = io.StringIO()
    call_command("prepare", stdout=again)
    assert "Content is up to date: nothing changed." in again.getvalue()
    assert "password" not in again.getvalue()


def test_prepare_creates_no_demo_users_in_production(settings: object) -> None:
    settings.DEBUG = False
    call_command("prepare", stdout=io.StringIO())
    assert not User.objects.exists()
    with pytest.raises(CommandError, match="development only"):
        call_command("create_demo_users")


DEVSERVER = Path(__file__).resolve().parents[2] / "scripts" / "devserver.py"


def test_the_devserver_runs_runserver_with_its_arguments_as_the_reloaded_process() -> None:
    # `--help` makes the server process print runserver's usage and exit 0, which the watcher passes on.
    done = subprocess.run(
        [sys.executable, str(DEVSERVER), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage: manage.py runserver" in done.stdout
    assert "--noreload" in done.stdout


def test_the_devserver_exits_with_the_servers_status_when_it_cannot_start() -> None:
    done = subprocess.run(
        [sys.executable, str(DEVSERVER), "not-a-port"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "is not a valid port number or address:port pair" in done.stderr
