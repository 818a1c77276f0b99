"""The check behind stage 11's challenge, over the learner's own versions, evaluations and gate verdicts."""

from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.llmops.models import RagPromotion
from sandbox.tracking.models import Run

TITLE = "Evaluate, improve and promote a RAG configuration"
STEPS = (
    "Evaluate a configuration of your own on the golden set",
    "Beat the baseline's hit rate@3",
    "Promote it through the regression gate without a regression on the golden set",
)


@register("llmops.rag-eval")
def rag_eval(user: User) -> ChallengeStatus:
    finished = Run.objects.filter(owner=user, status=Run.Status.SUCCEEDED, rag_evaluation__isnull=False)
    # A learner evaluates a handful of versions: their hit rates are read, the answers never.
    rows = list(finished.values_list("rag_evaluation__version__number", "dataset_version_id", "metrics"))
    baseline = {}
    for number, corpus, metrics in rows:
        if number == 1:
            baseline[corpus] = max(baseline.get(corpus, 0.0), metrics.get("hit_rate_at_3", 0.0))
    own = [(corpus, metrics.get("hit_rate_at_3", 0.0)) for number, corpus, metrics in rows if number >= 2]
    beaten = any(corpus in baseline and hit > baseline[corpus] for corpus, hit in own)
    promoted = RagPromotion.objects.filter(
        owner=user, passed=True, beats_baseline=True, candidate__number__gte=2
    ).exists()
    return ChallengeStatus(title=TITLE, steps=[(STEPS[0], bool(own)), (STEPS[1], beaten), (STEPS[2], promoted)])
