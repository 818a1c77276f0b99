from django.conf import settings
from django.db import models
from django.urls import reverse


class Node(models.Model):
    """One stage of the lifecycle map, loaded from `lessons/content/NN-slug/node.yaml`."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField()
    summary = models.TextField(blank=True)
    objectives = models.JSONField(default=list, blank=True)
    challenge_key = models.CharField(max_length=80, blank=True)
    prerequisites = models.ManyToManyField("self", symmetrical=False, related_name="dependants", blank=True)
    source_path = models.CharField(max_length=200, blank=True, help_text="Content file this node was loaded from.")

    class Meta:
        ordering = ["order"]
        permissions = [("author_content", "Can author lessons and questions")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("lessons:node", args=[self.slug])


class Lesson(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField()
    title = models.CharField(max_length=160)
    order = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    source = models.TextField(help_text="Markdown. Raw HTML is removed when it is rendered.")
    html = models.TextField(blank=True, editable=False)
    toc = models.JSONField(default=list, blank=True, editable=False)
    glossary_terms = models.JSONField(default=list, blank=True, editable=False)
    word_count = models.PositiveIntegerField(default=0, editable=False)
    reading_minutes = models.PositiveSmallIntegerField(default=1, editable=False)
    source_path = models.CharField(max_length=200, blank=True, editable=False)
    file_hash = models.CharField(
        max_length=64, blank=True, editable=False, help_text="SHA-256 of the content file when it was last loaded."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["node__order", "order"]
        constraints = [models.UniqueConstraint(fields=["node", "slug"], name="lesson_slug_unique_in_node")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("lessons:lesson", args=[self.node.slug, self.slug])


class LessonRead(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_reads")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="lesson_read_once")]

    def __str__(self) -> str:
        return f"{self.user} read {self.lesson}"


class NodeProgress(models.Model):
    """A learner's standing on one node: started when they first read a lesson, completed later."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="node_progress")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="progress")
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "node"], name="node_progress_once")]
        verbose_name_plural = "node progress"

    def __str__(self) -> str:
        return f"{self.user} on {self.node}"


class GlossaryTerm(models.Model):
    slug = models.SlugField(unique=True)
    term = models.CharField(max_length=120)
    aliases = models.JSONField(default=list, blank=True)
    definition = models.TextField()
    match_case = models.BooleanField(
        default=False, help_text="Link only exact-case matches, for names that are also ordinary words."
    )

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class FaqEntry(models.Model):
    order = models.PositiveSmallIntegerField()
    question = models.CharField(max_length=300)
    answer_source = models.TextField()
    answer_html = models.TextField(editable=False)

    class Meta:
        ordering = ["order"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question
