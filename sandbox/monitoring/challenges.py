"""The checks behind stages 8 and 9, read from the learner's own sandbox: drift reports, mysteries, traffic
runs and their request log, retrained versions and drills. Each reads a bounded number of rows."""

from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.monitoring.models import DriftReport, Drill, Scenario, TrafficRun
from sandbox.monitoring.services import same_value
from sandbox.serving.models import PredictionLog

# Stage 9: accuracy after the retraining within this much of the accuracy before the concept drift, over at
# least LABELLED requests on each side.
RECOVERED_WITHIN = 0.02
LABELLED = 100
# Concept-drift runs looked at, newest first.
RUNS_LOOKED_AT = 10


def _accuracy(logs: object, limit: int = 2_000) -> tuple[float | None, int]:
    """Accuracy of the answered requests' predictions over the labels that have arrived."""
    from django.utils import timezone

    right = total = 0
    rows = logs.filter(labelled_at__lte=timezone.now(), label__isnull=False).values_list("predictions", "label")
    for predictions, labels in rows[:limit]:
        for predicted, label in zip(predictions or [], labels or [], strict=False):
            total += 1
            right += same_value(predicted, label)
    return (right / total if total else None), total


@register("monitoring.drift-report")
def drift_report(user: User) -> ChallengeStatus:
    reported = DriftReport.objects.filter(
        owner=user, status=DriftReport.Status.DONE, source=DriftReport.Source.WINDOW
    ).exists()
    mysteries = TrafficRun.objects.filter(
        owner=user, hidden=True, scenario=Scenario.DATA, guessed_at__isnull=False
    ).exclude(settings__has_key="drill")
    solved = any(run.guess in (run.settings.get("shift") or {}) for run in mysteries.order_by("-pk")[:20])
    return ChallengeStatus(
        title="Detect drift in logged predictions and name its cause",
        steps=[
            ("Run a drift report on an endpoint's logged requests", reported),
            ("Start a mystery and name the feature that drifted", solved),
        ],
    )


def recovered_after_concept_drift(user: User) -> tuple[bool, str]:
    """Whether a retrained version brought accuracy under concept drift back within 2 points of the accuracy
    before the drift, and the figures in words."""
    runs = TrafficRun.objects.filter(
        owner=user, hidden=False, scenario=Scenario.CONCEPT, first_log_id__isnull=False, drift_log_id__isnull=False
    ).order_by("-pk")[:RUNS_LOOKED_AT]
    best = ""
    for run in runs:
        answered = PredictionLog.objects.filter(
            deployment_id=run.deployment_id, role__in=[PredictionLog.Role.STABLE, PredictionLog.Role.CANARY]
        )
        before, before_count = _accuracy(answered.filter(pk__gte=run.first_log_id, pk__lt=run.drift_log_id))
        if before is None or before_count < LABELLED:
            continue
        # Requests a retrained version answered under this drift, in this run or a later concept-drift run of
        # the same endpoint with the same feature.
        later = TrafficRun.objects.filter(
            deployment_id=run.deployment_id, scenario=Scenario.CONCEPT, pk__gte=run.pk, drift_log_id__isnull=False
        )
        for follow in later.order_by("pk")[:RUNS_LOOKED_AT]:
            if follow.settings.get("feature") != run.settings.get("feature"):
                continue
            retrained = answered.filter(
                pk__gte=follow.drift_log_id, pk__lte=follow.last_log_id or follow.drift_log_id,
                version__tags__retrained="drift",
            )  # fmt: skip
            after, after_count = _accuracy(retrained)
            if after is None or after_count < LABELLED:
                continue
            best = f"{after:.1%} after retraining against {before:.1%} before the drift"
            if after >= before - RECOVERED_WITHIN:
                return True, best
    return False, best


@register("retraining.retrain-rollback")
def retrain_and_recover(user: User) -> ChallengeStatus:
    recovered, figures = recovered_after_concept_drift(user)
    passed = any(drill.passed for drill in Drill.objects.filter(owner=user, score__isnull=False)[:50])
    shown = f" ({figures})" if figures else ""
    return ChallengeStatus(
        title="Close the loop: retrain after concept drift, and pass an incident drill",
        steps=[
            (
                f"After concept drift, retrain and bring accuracy back within {RECOVERED_WITHIN * 100:g} points "
                f"of the pre-drift level on {LABELLED} labelled requests{shown}",
                recovered,
            ),
            ("Pass an incident drill (a score of 60 or more)", passed),
        ],
    )
