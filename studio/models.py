from django.conf import settings
from django.db import models


class ItemKind(models.TextChoices):
    """What the studio edits, each kept as its part of a file in `lessons/content/`."""

    LESSON = "lesson", "Lesson"
    QUESTION = "question", "Question"
    NODE = "node", "Stage"
    TERM = "term", "Glossary term"
    FAQ = "faq", "FAQ entry"


class Revision(models.Model):
    """One saved state of a content item: its fields, and the same as the text its content file holds.

    An item is named by `kind` and `key`, the name it has in the files (a lesson `node/slug`, a question's id, a
    stage's or a term's slug, an FAQ entry's position), so its history outlives a database row that sync removes
    and makes again.
    """

    class Origin(models.TextChoices):
        STUDIO = "studio", "Saved in the studio"
        FILE = "file", "Loaded from the content files"
        RESTORE = "restore", "Restored from an older revision"

    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    key = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    data = models.JSONField(help_text="The item's fields as `studio.items` reads and writes them.")
    text = models.TextField(help_text="The item as its content file writes it, which diffs compare.")
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.STUDIO)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "key", "-number"]
        constraints = [models.UniqueConstraint(fields=["kind", "key", "number"], name="revision_number_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} r{self.number}"


class FileBase(models.Model):
    """What the content files said of an item when the site last took them in.

    `sync_content` compares the files with it: a file that still says the same leaves the studio's edits alone,
    and a file that changed while the studio also did is a conflict instead of an overwrite.
    """

    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    key = models.CharField(max_length=200)
    file_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="file_base_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} @ {self.file_hash[:8]}"


class ContentConflict(models.Model):
    """A file and the studio both changed one item since the last sync: the database kept the studio's version,
    this row keeps the file's until an instructor chooses."""

    class Resolution(models.TextChoices):
        STUDIO = "studio", "Kept the studio's revision"
        FILE = "file", "Took the file's version"

    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    key = models.CharField(max_length=200)
    path = models.CharField(max_length=200, help_text="The content file, relative to the project.")
    file_data = models.JSONField()
    file_text = models.TextField()
    file_hash = models.CharField(max_length=64)
    detected_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"], condition=models.Q(resolved_at__isnull=True), name="one_open_conflict_per_item"
            )
        ]

    def __str__(self) -> str:
        return f"conflict on {self.kind} {self.key}"
