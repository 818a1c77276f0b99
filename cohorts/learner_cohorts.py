"""What a learner sees of their cohorts on the map and a stage page: each cohort's name and stage deadlines.

The map answers in a fixed number of queries whatever the learner has done, so this is kept per process,
per learner, as the course snapshot is (lessons.course): dropped at once in the process that saves or deletes
a cohort, a membership or a deadline (the signals below), and in every other process within
`COURSE_CACHE_SECONDS`. The key holds the account's creation time too, so that a recycled user id never
finds another account's cohorts.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.signals import post_delete, post_save

from cohorts.models import Cohort, CohortMembership, StageDeadline
from lessons.course import course_snapshot
from lessons.models import Node

MAX_LEARNERS = 4096


@dataclass(frozen=True)
class LearnerCohort:
    name: str
    deadlines: dict[int, date]
    """Each stage's due date by node pk, for the stages the instructor set one for."""


@dataclass(frozen=True)
class StageDue:
    cohort: str
    due: date


_lock = threading.Lock()
_generation = [0]
_kept: OrderedDict[tuple, tuple[int, float, list[LearnerCohort]]] = OrderedDict()


def _cohorts_changed(**_: object) -> None:
    with _lock:
        _generation[0] += 1
        _kept.clear()


def _read(user: User) -> list[LearnerCohort]:
    memberships = list(
        CohortMembership.objects.filter(learner=user)
        .select_related("cohort")
        .prefetch_related("cohort__deadlines")
        .order_by("joined_at", "pk")
    )
    return [
        LearnerCohort(name=m.cohort.name, deadlines={d.node_id: d.due for d in m.cohort.deadlines.all()})
        for m in memberships
    ]


def learner_cohorts(*, user: User) -> list[LearnerCohort]:
    """The cohorts the learner belongs to, in the order they joined, each with its stage deadlines."""
    if not user.is_authenticated:
        return []
    key = (user.pk, user.date_joined)
    generation = _generation[0]
    lifetime = getattr(settings, "COURSE_CACHE_SECONDS", 5)
    with _lock:
        kept = _kept.get(key)
        if kept is not None and kept[0] == generation and time.monotonic() - kept[1] < lifetime:
            _kept.move_to_end(key)
            return kept[2]
    cohorts = _read(user)
    if not connection.in_atomic_block:
        with _lock:
            if _generation[0] == generation:
                _kept[key] = (generation, time.monotonic(), cohorts)
                while len(_kept) > MAX_LEARNERS:
                    _kept.popitem(last=False)
    return cohorts


@dataclass(frozen=True)
class CohortPlan:
    name: str
    stages: list[tuple[Node, date]]
    """The stages with a deadline, in map order, each with its due date."""


def learner_cohort_plans(*, user: User) -> list[CohortPlan]:
    """The learner's cohorts for the map: each name with its stage deadlines in map order."""
    nodes = course_snapshot().nodes
    return [
        CohortPlan(cohort.name, [(node, cohort.deadlines[node.pk]) for node in nodes if node.pk in cohort.deadlines])
        for cohort in learner_cohorts(user=user)
    ]


def stage_deadlines(*, user: User, node_pk: int) -> list[StageDue]:
    """The learner's due dates for one stage, one per cohort that set one."""
    return [
        StageDue(cohort.name, cohort.deadlines[node_pk])
        for cohort in learner_cohorts(user=user)
        if node_pk in cohort.deadlines
    ]


for _model in (Cohort, CohortMembership, StageDeadline):
    post_save.connect(_cohorts_changed, sender=_model, dispatch_uid=f"cohorts-changed-save-{_model.__name__}")
    post_delete.connect(_cohorts_changed, sender=_model, dispatch_uid=f"cohorts-changed-delete-{_model.__name__}")
