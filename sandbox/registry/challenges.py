"""The check behind stage 6's challenge, over the learner's own registry rows, in a fixed number of indexed
queries however many models, versions and gates the learner has."""

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef

from lessons.challenges import ChallengeStatus, register
from sandbox.registry.models import ModelVersion, RegisteredModel, Validation


@register("registry.promote-alias")
def promote_alias(user: User) -> ChallengeStatus:
    # A second version exists exactly when number 2 does (numbers count from 1): a seek on (model, number).
    second = ModelVersion.objects.filter(registered_model=OuterRef("pk"), number=2)
    two_versions = RegisteredModel.objects.filter(owner=user).filter(Exists(second)).exists()
    promoted = Validation.objects.filter(
        owner=user, status=Validation.Status.PASSED, outcome=Validation.Outcome.MOVED, alias="champion"
    )
    return ChallengeStatus(
        title="Point champion at the better version through the gate",
        steps=[
            ("Register two versions of one model", two_versions),
            ("Promote a version to champion through the validation gate", promoted.exists()),
            (
                "Promote a version over an existing champion: the gate compared the two and it passed",
                promoted.filter(champion__isnull=False).exists(),
            ),
        ],
    )
