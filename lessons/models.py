from django.conf import settings
from django.db import models
from django.urls import reverse

from lessons import question_kinds


class Node(models.Model):
    """One stage of the lifecycle map, loaded from `lessons/content/NN-slug/node.yaml`."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField()
    summary = models.TextField(blank=True)
    objectives = models.JSONField(default=list, blank=True)
    challenge_key = models.CharField(max_length=80, blank=True)
    pass_mark = models.PositiveSmallIntegerField(default=80, help_text="Percent of quiz questions to answer correctly.")
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
    quiz_passed_at = models.DateTimeField(null=True, blank=True)
    challenge_met_at = models.DateTimeField(null=True, blank=True)
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


class LearnerProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_profile")
    free_roam = models.BooleanField(
        default=False, help_text="Open every node to explore; completion still needs each quiz and challenge."
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class Question(models.Model):
    # Built from the kinds table, so that a new kind is described in one place.
    Kind = models.TextChoices(
        "Kind", [(value.upper(), (value, kind.label)) for value, kind in question_kinds.KINDS.items()]
    )
    CHOICE_KINDS = question_kinds.CHOICE_KINDS

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="questions")
    qid = models.SlugField(max_length=120, unique=True, verbose_name="id")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    order = models.PositiveSmallIntegerField(default=0)
    difficulty = models.PositiveSmallIntegerField(default=2)
    tags = models.JSONField(default=list, blank=True)
    prompt = models.TextField()
    prompt_html = models.TextField(editable=False)
    explanation = models.TextField()
    explanation_html = models.TextField(editable=False)
    answer = models.JSONField(
        default=dict, blank=True, help_text="The key for non-choice kinds: value, tolerance, unit, items, order."
    )
    model_answer = models.TextField(blank=True)
    model_answer_html = models.TextField(blank=True, editable=False)
    source_path = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["node__order", "order"]

    def __str__(self) -> str:
        return self.qid

    @property
    def spec(self) -> question_kinds.QuestionKind:
        """What this kind of question is: its label, how it is parsed and graded, how it is shown."""
        return question_kinds.KINDS[self.kind]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveSmallIntegerField()
    text = models.TextField()
    text_html = models.TextField(editable=False)
    correct = models.BooleanField(default=False)
    feedback = models.TextField(blank=True)
    feedback_html = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["question", "order"]
        constraints = [models.UniqueConstraint(fields=["question", "order"], name="choice_order_unique")]

    def __str__(self) -> str:
        return self.text[:60]


class QuizAttempt(models.Model):
    """One sitting: a node quiz, a timed interview session, or a spaced-repetition review."""

    class Mode(models.TextChoices):
        NODE = "node", "Node quiz"
        INTERVIEW = "interview", "Interview session"
        REVIEW = "review", "Review"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.NODE)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts")
    stages = models.JSONField(default=list, blank=True, help_text="Node slugs an interview session draws from.")
    seed = models.PositiveIntegerField()
    question_ids = models.JSONField(default=list, help_text="Question primary keys in the order this attempt shows.")
    started_at = models.DateTimeField(auto_now_add=True)
    deadline = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    correct = models.PositiveSmallIntegerField(default=0)
    graded = models.PositiveSmallIntegerField(default=0, help_text="Graded questions in the attempt.")
    passed = models.BooleanField(null=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} #{self.pk} by {self.user}"

    @property
    def percent(self) -> int:
        return round(100 * self.correct / self.graded) if self.graded else 0


class Answer(models.Model):
    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    response = models.JSONField(default=dict, blank=True)
    correct = models.BooleanField(null=True, help_text="Empty for explain-it cards.")
    rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Self-rating 1-4 for explain-it cards.")
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")]

    def __str__(self) -> str:
        return f"{self.question} in {self.attempt}"


class ReviewCard(models.Model):
    """A question in a learner's review queue, scheduled with FSRS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_cards")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="review_cards")
    state = models.JSONField(help_text="fsrs.Card.to_dict()")
    due = models.DateTimeField(db_index=True)
    reviews = models.PositiveIntegerField(default=0)
    last_rating = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "question"], name="one_review_card_per_question")]

    def __str__(self) -> str:
        return f"{self.question} for {self.user}, due {self.due:%Y-%m-%d %H:%M}"


class RenderedMarkdown(models.Model):
    """Markdown that content sync rendered, found again by the digest of its source, context and renderer.

    A sync renders only the fragments not found here, so a start of the site where no content file
    changed renders nothing; what a sync no longer uses is removed by it.
    """

    digest = models.CharField(max_length=64, primary_key=True, help_text="SHA-256 of renderer, context and source.")
    rendered = models.JSONField(help_text="lessons.rendering.Rendered.to_json()")

    class Meta:
        verbose_name = "rendered Markdown"
        verbose_name_plural = "rendered Markdown"

    def __str__(self) -> str:
        return self.digest[:12]
