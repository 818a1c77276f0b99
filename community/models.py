"""The community: questions, answers and comments (one `Post` table), votes, snapshots shared from the sandbox,
reports and moderation, discussion prompts in lessons and their answers, presence and notifications."""

from django.conf import settings
from django.db import models
from django.db.models import Q

TITLE_MAX = 200
BODY_MAX = 20_000


class Post(models.Model):
    """A question, an answer to one, or a comment on either.

    A question has a title and may be about a stage and one of its lessons; an answer belongs to its question;
    a comment belongs to the post it comments on (`parent`) and to that post's question. Markdown is kept as
    typed (`body`) and as sanitized HTML (`body_html`), rendered once on save by the lessons' renderer.
    """

    class Kind(models.TextChoices):
        QUESTION = "question", "Question"
        ANSWER = "answer", "Answer"
        COMMENT = "comment", "Comment"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_posts")
    question = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="thread",
        help_text="The question an answer or comment belongs to; empty for a question.",
    )  # fmt: skip
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="comments",
        help_text="The post a comment comments on.",
    )  # fmt: skip
    node = models.ForeignKey(
        "lessons.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="community_questions"
    )
    lesson = models.ForeignKey(
        "lessons.Lesson", null=True, blank=True, on_delete=models.SET_NULL, related_name="community_questions"
    )
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    body = models.TextField()
    body_html = models.TextField()
    search_document = models.TextField(blank=True, help_text="A question's title and body as plain words.")
    score = models.IntegerField(default=0, help_text="The sum of the post's votes.")
    answer_count = models.PositiveIntegerField(default=0, help_text="A question's visible answers.")
    accepted_answer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The answer the asker accepted.",
    )  # fmt: skip
    by_instructor = models.BooleanField(default=False, help_text="Written by a holder of the authoring permission.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["kind", "node", "-created_at"], name="post_stage_newest"),
            models.Index(fields=["kind", "lesson"], name="post_lesson"),
            models.Index(fields=["question", "kind", "created_at"], name="post_thread"),
            models.Index(fields=["kind", "-score", "-created_at"], name="post_most_voted"),
            models.Index(fields=["author", "created_at"], name="post_author_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="question", question__isnull=True) | Q(~Q(kind="question"), question__isnull=False),
                name="post_question_only_for_replies",
            ),
            models.CheckConstraint(
                condition=~Q(kind="comment") | Q(parent__isnull=False), name="post_comment_has_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.pk}"

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


class PostRevision(models.Model):
    """The text a post had before an edit, kept for moderators."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    body = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"post {self.post_id} before an edit"


class Vote(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_votes")
    value = models.SmallIntegerField(choices=[(1, "Up"), (-1, "Down")])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "voter"], name="one_vote_per_post"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="vote_up_or_down"),
        ]
        indexes = [models.Index(fields=["voter", "created_at"], name="vote_voter_recent")]

    def __str__(self) -> str:
        return f"{self.value:+d} on post {self.post_id}"


class Snapshot(models.Model):
    """Something from the author's sandbox, copied into a post when it was written and never changed after,
    so anyone can read it without access to the sandbox. `data` holds only what the card shows."""

    class Kind(models.TextChoices):
        RUN = "run", "Training run"
        COMPARISON = "comparison", "Comparison of runs"
        DRIFT_REPORT = "drift_report", "Drift report"
        FAILING_REQUEST = "failing_request", "Failing request"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="snapshots")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    data = models.JSONField()
    source_id = models.PositiveBigIntegerField(help_text="The sandbox object's id when it was copied (never shown).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.title


class Report(models.Model):
    """Someone asked moderators to look at a post."""

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        RUDE = "rude", "Rude or abusive"
        OFF_TOPIC = "off_topic", "Off topic"
        ANSWER_LEAK = "answer_leak", "Gives away a quiz answer"
        OTHER = "other", "Something else"

    class Outcome(models.TextChoices):
        HIDDEN = "hidden", "Post hidden"
        DISMISSED = "dismissed", "Dismissed"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="one_report_per_post_and_reporter")]

    def __str__(self) -> str:
        return f"report on post {self.post_id}: {self.reason}"


class DiscussionPrompt(models.Model):
    """A prompt a lesson carries (`::: prompt <slug>` in its file), loaded by sync with the lesson."""

    lesson = models.ForeignKey("lessons.Lesson", on_delete=models.CASCADE, related_name="discussion_prompts")
    slug = models.SlugField(max_length=60)
    order = models.PositiveIntegerField(default=1)
    text = models.TextField(help_text="The prompt as Markdown.")
    text_html = models.TextField()

    class Meta:
        ordering = ["lesson", "order"]
        constraints = [models.UniqueConstraint(fields=["lesson", "slug"], name="prompt_slug_once_per_lesson")]

    def __str__(self) -> str:
        return f"{self.lesson} · {self.slug}"


class PromptAnswer(models.Model):
    """A learner's answer to a discussion prompt: theirs to write before they may read their peers'."""

    prompt = models.ForeignKey(DiscussionPrompt, on_delete=models.CASCADE, related_name="answers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_answers")
    body = models.TextField()
    body_html = models.TextField()
    is_model = models.BooleanField(default=False, help_text="An instructor's answer marked as the model answer.")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["prompt", "author"], name="one_prompt_answer_per_author")]

    def __str__(self) -> str:
        return f"answer to {self.prompt_id} by {self.author_id}"


class Presence(models.Model):
    """When a person was last seen, on which stage, and whether they would rather not be shown."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence")
    last_seen_at = models.DateTimeField(db_index=True)
    node = models.ForeignKey("lessons.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hidden = models.BooleanField(default=False, help_text="Counted as active, but never named on a stage page.")

    class Meta:
        indexes = [models.Index(fields=["node", "last_seen_at"], name="presence_stage_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} seen {self.last_seen_at:%H:%M}"


class Notification(models.Model):
    """Something happened to a post of the recipient's: an answer, a comment, an accepted answer, a post hidden."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "New answer"
        COMMENT = "comment", "New comment"
        ACCEPTED = "accepted", "Answer accepted"
        HIDDEN = "hidden", "Post hidden by a moderator"
        RESTORED = "restored", "Post restored by a moderator"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_notifications"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"
