"""The course as every learner sees it — stages, prerequisites, lessons, glossary — kept by each process.

The map, a lesson and the glossary used to rebuild the course from the database on every request:
the stages with their prerequisites, the published lesson counts, each stage's depth on the map.
All of that is the same for every learner and changes only when content is synced or edited, so a
process builds it once into a `CourseSnapshot` and serves requests from it; what differs per
learner (their progress, their reads, free roam) is still read fresh on each request.

A snapshot is dropped in the process that changes the course, at once, by the model signals below
(content sync and the admin save, delete and set prerequisites through the ORM, which sends them),
and in every other process within `COURSE_CACHE_SECONDS` (5 by default): an edit made in one web
process reaches learners served by another a few seconds later, never a stale page for longer.
Rendered fragments that depend only on the course and a learner's standing (`fragment`) are kept
beside the snapshot and dropped with it.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save

from lessons import prerequisites
from lessons.models import Choice, GlossaryTerm, Lesson, Node, Question

MAX_FRAGMENTS = 512


@dataclass(frozen=True)
class CourseSnapshot:
    nodes: list[Node]
    """Every stage in map order; each carries `prerequisite_list` (in map order) and `published` (a count)."""
    by_pk: dict[int, Node]
    by_slug: dict[str, Node]
    depth: dict[int, int]
    lane: dict[int, int]
    lessons: dict[int, list[Lesson]]
    """Each stage's published lessons in order, without their bodies."""
    lesson_node: dict[int, int]
    """Each published lesson's stage."""
    glossary: list[GlossaryTerm]
    cycle: list[int] | None
    generation: int = 0
    built_at: float = field(default=0.0, compare=False)
    questions: dict[int, Question] = field(default_factory=dict, compare=False)
    """Every question with its choices, filled by the first `course_questions` (a quiz page) of this snapshot."""


_lock = threading.Lock()
_generation = 0
_snapshot: CourseSnapshot | None = None
_fragments: OrderedDict[tuple, str] = OrderedDict()


def course_changed(**_: object) -> None:
    """Forget this process's snapshot and fragments; the next request builds them again."""
    global _generation, _snapshot
    with _lock:
        _generation += 1
        _snapshot = None
        _fragments.clear()


def _build(generation: int) -> CourseSnapshot:
    nodes = list(Node.objects.prefetch_related("prerequisites").order_by("order"))
    lessons: dict[int, list[Lesson]] = {node.pk: [] for node in nodes}
    lesson_node: dict[int, int] = {}
    published = Lesson.objects.filter(status=Lesson.Status.PUBLISHED).defer("source", "html", "toc").order_by("order")
    for lesson in published:
        lessons.setdefault(lesson.node_id, []).append(lesson)
        lesson_node[lesson.pk] = lesson.node_id
    graph = {}
    for node in nodes:
        node.prerequisite_list = sorted(node.prerequisites.all(), key=lambda n: n.order)
        node.published = len(lessons.get(node.pk, []))
        graph[node.pk] = [p.pk for p in node.prerequisite_list]
    depth = prerequisites.depths(graph)
    lane: dict[int, int] = {}
    taken: dict[int, int] = {}
    for node in nodes:
        lane[node.pk] = taken.get(depth[node.pk], 0)
        taken[depth[node.pk]] = lane[node.pk] + 1
    by_pk = {node.pk: node for node in nodes}
    for node in nodes:  # the same objects everywhere, so a prerequisite's title is read from one place
        node.prerequisite_list = [by_pk[p.pk] for p in node.prerequisite_list]
    for stage_lessons in lessons.values():
        for lesson in stage_lessons:
            lesson.node = by_pk[lesson.node_id]  # so that a lesson's URL costs no query
    return CourseSnapshot(
        nodes=nodes,
        by_pk=by_pk,
        by_slug={node.slug: node for node in nodes},
        depth=depth,
        lane=lane,
        lessons=lessons,
        lesson_node=lesson_node,
        glossary=list(GlossaryTerm.objects.all()),
        cycle=prerequisites.prerequisite_cycle(graph),
        generation=generation,
        built_at=time.monotonic(),
    )


def course_snapshot() -> CourseSnapshot:
    """This process's snapshot of the course, built now when there is none or it is older than allowed."""
    global _snapshot
    snapshot, generation = _snapshot, _generation
    lifetime = getattr(settings, "COURSE_CACHE_SECONDS", 5)
    if snapshot is not None and time.monotonic() - snapshot.built_at < lifetime and not connection.in_atomic_block:
        return snapshot
    fresh = _build(generation)
    if connection.in_atomic_block:
        # Inside a transaction the course may hold changes not yet committed (or about to be rolled back):
        # serve them to this request only.
        return fresh
    with _lock:
        if _generation == generation:
            if _snapshot is None or _snapshot.built_at < fresh.built_at:
                _fragments.clear()
            _snapshot = fresh
    return fresh


def course_questions(snapshot: CourseSnapshot) -> dict[int, Question]:
    """Every question of the course by primary key, each with its stage and its choices loaded.

    Read once per snapshot instead of on every quiz page, where loading a stage's questions with their choices
    cost more than writing the page. The objects are shared by every request of this process: read them, never
    change them.
    """
    if snapshot.questions:
        return snapshot.questions
    questions = {}
    for question in Question.objects.prefetch_related("choices"):
        question.node = snapshot.by_pk.get(question.node_id) or question.node
        questions[question.pk] = question
    if snapshot is _snapshot:
        with _lock:
            snapshot.questions.update(questions)
    return questions


def fragment(snapshot: CourseSnapshot, key: tuple, render: Callable[[], str]) -> str:
    """HTML that depends only on the course and on `key`, rendered once per snapshot and kept (LRU)."""
    full_key = (snapshot.generation, snapshot.built_at, *key)
    with _lock:
        html = _fragments.get(full_key)
        if html is not None:
            _fragments.move_to_end(full_key)
            return html
    html = render()
    if snapshot is _snapshot:
        with _lock:
            _fragments[full_key] = html
            while len(_fragments) > MAX_FRAGMENTS:
                _fragments.popitem(last=False)
    return html


for model in (Node, Lesson, GlossaryTerm, Question, Choice):
    post_save.connect(course_changed, sender=model, dispatch_uid=f"course-changed-save-{model.__name__}")
    post_delete.connect(course_changed, sender=model, dispatch_uid=f"course-changed-delete-{model.__name__}")
m2m_changed.connect(course_changed, sender=Node.prerequisites.through, dispatch_uid="course-changed-prerequisites")
