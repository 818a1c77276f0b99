from django.contrib.auth.models import User
from django.db.models import Count, Max

from lessons.challenges import ChallengeStatus, register
from sandbox.datasets.models import Dataset


@register("data.two-versions")
def two_versions(user: User) -> ChallengeStatus:
    # The course corpus is versioned by the site as its content changes, not by the learner.
    most = (
        Dataset.objects.filter(owner=user)
        .exclude(source=Dataset.Source.CORPUS)
        .annotate(n=Count("versions"))
        .aggregate(most=Max("n"))["most"]
        or 0
    )
    return ChallengeStatus(
        title="Version a dataset twice",
        steps=[
            ("Create a dataset in the sandbox", most >= 1),
            ("Change its content so that it gets a second version", most >= 2),
        ],
    )
