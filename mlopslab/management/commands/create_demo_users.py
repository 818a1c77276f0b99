import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

DEMO_USERS = (("learner", False), ("instructor", True))


class Command(BaseCommand):
    help = "Create a demo learner and a demo instructor for local development, printing their passwords once."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo users are for development only; DEBUG is off.")
        instructors = Group.objects.get(name="Instructors")
        for username, is_instructor in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(username=username, password=password, is_staff=is_instructor)
            if is_instructor:
                user.groups.add(instructors)
            role = "instructor (Studio, Cohorts and admin)" if is_instructor else "learner"
            self.stdout.write(self.style.SUCCESS(f"Demo {role}: username {username!r}, password {password!r}"))
            self.stdout.write("  (shown once; reset with: .venv/bin/python manage.py changepassword " + username + ")")
