from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons.content_files import ContentError
from lessons.services import CONTENT_ROOT, content_sync


class Command(BaseCommand):
    help = "Load lessons/content/ into the database in one transaction; changes nothing if any file is invalid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--root", type=Path, default=CONTENT_ROOT, help="content folder (default: %(default)s)")

    def handle(self, *args: object, root: Path, **options: object) -> None:
        try:
            report = content_sync(root=root)
        except ContentError as exc:
            raise CommandError(f"Content not loaded; nothing was changed. Fix these first:\n{exc}") from None
        self.stdout.write(self.style.SUCCESS(str(report)) if report.changed else str(report))
