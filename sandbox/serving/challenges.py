"""The check behind stage 7's challenge, over the learner's own releases and request log, in a fixed number of
indexed queries however many endpoints, releases and requests the learner has."""

from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.serving.models import PredictionLog, Release, Strategy

CANARY_PERCENT = 20
SERVED = 50


@register("deployment.serve-predictions")
def serve_predictions(user: User) -> ChallengeStatus:
    # Canaries at 20 % that took traffic (a seek on release_canaries), then at most 50 of the requests they
    # answered, by the stable or the canary version (the shadow answers no one): a bounded range of an index.
    canaries = Release.objects.filter(
        owner=user, strategy=Strategy.CANARY, canary_percent=CANARY_PERCENT, live_at__isnull=False
    ).values("pk")
    answered = PredictionLog.objects.filter(
        release__in=canaries, role__in=[PredictionLog.Role.STABLE, PredictionLog.Role.CANARY]
    )
    served = answered.values("pk")[:SERVED].count()
    rolled_back = Release.objects.filter(owner=user, kind=Release.Kind.ROLLBACK).exists()
    return ChallengeStatus(
        title="Release a canary and roll back a bad release",
        steps=[
            (f"Deploy a canary at {CANARY_PERCENT} % beside the version serving", canaries.exists()),
            (f"Serve {SERVED} successful requests while it takes its share ({served} so far)", served >= SERVED),
            ("Roll back a bad release in one click", rolled_back),
        ],
    )
