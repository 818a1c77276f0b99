"""Use cases of cohorts: an instructor creates and runs one, a learner joins it with its invite code."""

import secrets
from datetime import date, datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from cohorts.models import STUCK_DAYS_DEFAULT, Cohort, CohortMembership, StageDeadline
from cohorts.selectors import normalise_code
from lessons.models import Node
from mlopslab.refusals import Refused

# No 0/O, 1/I/L or 5/S: a code read aloud or copied from a projector is typed right the first time.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXYZ2346789"
CODE_LENGTH = 8


def invite_code_new() -> str:
    """A fresh random invite code no cohort holds (8 letters from 29: about 5 × 10^11 codes)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not Cohort.objects.filter(invite_code=code).exists():
            return code


def cohort_create(
    *,
    instructor: User,
    name: str,
    stuck_after_days: int = STUCK_DAYS_DEFAULT,
    invite_expires_at: datetime | None = None,
) -> Cohort:
    for attempt in range(5):
        try:
            with transaction.atomic():
                return Cohort.objects.create(
                    instructor=instructor,
                    name=name,
                    stuck_after_days=stuck_after_days,
                    invite_expires_at=invite_expires_at,
                    invite_code=invite_code_new(),
                )
        except IntegrityError:  # another cohort took the same code between the check and the insert
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def cohort_update(*, cohort: Cohort, name: str, stuck_after_days: int, invite_expires_at: datetime | None) -> Cohort:
    cohort.name = name
    cohort.stuck_after_days = stuck_after_days
    cohort.invite_expires_at = invite_expires_at
    cohort.save(update_fields=["name", "stuck_after_days", "invite_expires_at"])
    return cohort


def cohort_invite_regenerate(*, cohort: Cohort) -> Cohort:
    """A new code replaces the old one, which stops working; an expiry already passed is lifted."""
    cohort.invite_code = invite_code_new()
    if cohort.invite_expires_at is not None and cohort.invite_expires_at <= timezone.now():
        cohort.invite_expires_at = None
    cohort.save(update_fields=["invite_code", "invite_expires_at"])
    return cohort


def cohort_invite_expire(*, cohort: Cohort, now: datetime | None = None) -> Cohort:
    """The invite stops working now; learners who joined stay."""
    cohort.invite_expires_at = now or timezone.now()
    cohort.save(update_fields=["invite_expires_at"])
    return cohort


def membership_join(*, learner: User, code: str, now: datetime | None = None) -> CohortMembership:
    """Join the cohort the code names; refuse, changing nothing, a wrong or expired code, or a second join."""
    cohort = Cohort.objects.filter(invite_code=normalise_code(code)).first()
    if cohort is None:
        raise Refused("No cohort has that invite code. Check it with your instructor.", status=404)
    if not cohort.invite_open(now):
        raise Refused(f"The invite to “{cohort.name}” has expired. Ask your instructor for a new one.", status=410)
    if cohort.instructor_id == learner.pk:
        raise Refused(f"You teach “{cohort.name}”: instructors do not join their own cohorts.", status=409)
    try:
        with transaction.atomic():
            return CohortMembership.objects.create(cohort=cohort, learner=learner)
    except IntegrityError:
        raise Refused(f"You have already joined “{cohort.name}”.", status=409) from None


def deadlines_set(*, cohort: Cohort, due: dict[int, date | None]) -> None:
    """Set each stage's due date, by node pk; None clears one. Unknown stages are refused, nothing changed."""
    known = set(Node.objects.filter(pk__in=due).values_list("pk", flat=True))
    if unknown := set(due) - known:
        raise Refused(f"No such stage: {', '.join(map(str, sorted(unknown)))}.", status=400)
    with transaction.atomic():
        existing = {d.node_id: d for d in StageDeadline.objects.filter(cohort=cohort)}
        for node_id, day in due.items():
            row = existing.get(node_id)
            if day is None:
                if row is not None:
                    row.delete()
            elif row is None:
                StageDeadline.objects.create(cohort=cohort, node_id=node_id, due=day)
            elif row.due != day:
                row.due = day
                row.save(update_fields=["due"])
