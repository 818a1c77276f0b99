from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make the site ready to serve: migrate, load the course content, and (DEBUG only) create demo users."

    def handle(self, *args: object, **options: object) -> None:
        # One process for the three steps: each command alone would pay Django's start-up again.
        call_command("migrate", interactive=False, verbosity=1, stdout=self.stdout)
        call_command("sync_content", stdout=self.stdout)
        if settings.DEBUG:
            call_command("create_demo_users", stdout=self.stdout)
