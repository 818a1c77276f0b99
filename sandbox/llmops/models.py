"""The RAG evaluation sandbox's own rows: a learner's configuration versions, each evaluation's per-question
results, and the regression gate's verdicts. The evaluation itself is a tracking `Run` on the corpus's dataset
version, so it sits in the runs table and the compare page beside training runs."""

from django.conf import settings
from django.db import models

from sandbox.tracking.models import Run


class RagConfigVersion(models.Model):
    """One immutable configuration of the pipeline: v1 is the baseline, each save the next number."""

    class StopWords(models.TextChoices):
        NONE = "none", "none"
        ENGLISH = "english", "English (scikit-learn's list)"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rag_versions")
    number = models.PositiveIntegerField()
    prompt_template = models.TextField()
    chunk_size = models.PositiveSmallIntegerField(help_text="Words per chunk.")
    chunk_overlap = models.PositiveSmallIntegerField(help_text="Words each chunk repeats from the previous one.")
    top_k = models.PositiveSmallIntegerField(help_text="Chunks given to the composer.")
    ngram_max = models.PositiveSmallIntegerField(help_text="1: words; 2: words and pairs of words.")
    sublinear_tf = models.BooleanField()
    stop_words = models.CharField(max_length=10, choices=StopWords.choices)
    include_title = models.BooleanField(help_text="Prepend the document's title to each chunk.")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    PARAM_FIELDS = (
        "prompt_template",
        "chunk_size",
        "chunk_overlap",
        "top_k",
        "ngram_max",
        "sublinear_tf",
        "stop_words",
        "include_title",
    )

    class Meta:
        ordering = ["owner", "number"]
        constraints = [models.UniqueConstraint(fields=["owner", "number"], name="rag_version_number_once")]

    def __str__(self) -> str:
        return f"RAG configuration v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        # A configuration is its identity, as a run's params are: change it by saving the next version.
        if self.pk is not None:
            stored = RagConfigVersion.objects.filter(pk=self.pk).values(*self.PARAM_FIELDS).first()
            if stored and stored != {name: getattr(self, name) for name in self.PARAM_FIELDS}:
                raise ValueError("A configuration version cannot change once saved; save a new version instead.")
        super().save(*args, **kwargs)

    def params(self) -> dict:
        return {name: getattr(self, name) for name in self.PARAM_FIELDS}


class RagEvaluation(models.Model):
    """One evaluation of a version on the golden set: the tracking run that holds its metrics, and its version."""

    version = models.ForeignKey(RagConfigVersion, on_delete=models.CASCADE, related_name="evaluations")
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="rag_evaluation")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Evaluation of v{self.version.number} ({self.run.status})"


class RagAnswer(models.Model):
    """What one evaluation did with one golden question."""

    evaluation = models.ForeignKey(RagEvaluation, on_delete=models.CASCADE, related_name="answers")
    position = models.PositiveSmallIntegerField()
    question_id = models.CharField(max_length=80)
    question = models.CharField(max_length=300)
    expected = models.JSONField(default=list)
    fact = models.CharField(max_length=200)
    first_relevant_rank = models.PositiveIntegerField(null=True, blank=True)
    hit_at_1 = models.BooleanField()
    hit_at_3 = models.BooleanField()
    hit_at_k = models.BooleanField()
    fact_found = models.BooleanField()
    answer = models.TextField()
    prompt_tokens = models.PositiveIntegerField()
    answer_tokens = models.PositiveIntegerField()
    latency_ms = models.FloatField()
    retrieved = models.JSONField(default=list, help_text="The top_k chunks: id, document, title, text, score, rank.")

    class Meta:
        ordering = ["evaluation", "position"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "position"], name="rag_answer_once")]

    def __str__(self) -> str:
        return f"{self.question_id}: {'fact found' if self.fact_found else 'fact missing'}"


class RagPromotion(models.Model):
    """One pass of the regression gate: a candidate version against the one promoted then. Only a passed gate
    promotes; a failed one is kept with its reasons and changes nothing else."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rag_promotions")
    candidate = models.ForeignKey(RagConfigVersion, on_delete=models.CASCADE, related_name="gate_results")
    against = models.ForeignKey(RagConfigVersion, on_delete=models.CASCADE, related_name="+")
    candidate_run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    against_run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    passed = models.BooleanField()
    reasons = models.JSONField(default=list, blank=True)
    lost = models.JSONField(default=list, blank=True, help_text="Golden question ids the promoted version answered.")
    beats_baseline = models.BooleanField(default=False, help_text="The candidate's hit rate@3 beats v1's.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "passed", "-created_at"], name="rag_promotion_latest")]

    def __str__(self) -> str:
        return f"v{self.candidate.number} against v{self.against.number}: {'passed' if self.passed else 'failed'}"
