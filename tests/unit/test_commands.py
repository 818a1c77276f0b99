import io

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
