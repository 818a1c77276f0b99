from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet

from lessons.challenges import ChallengeStatus, challenge_status
from lessons.models import GlossaryTerm, LearnerProfile, Lesson, LessonRead, Node, NodeProgress, Question, QuizAttempt

AUTHOR_PERMISSION = "lessons.author_content"


@dataclass
class NodeState:
    node: Node
    state: str
    """One of locked, open, in_progress, completed."""
    reason: str
    lesson_count: int
    lessons_read: int
    depth: int = 0
    lane: int = 0
    prerequisite_slugs: list[str] = field(default_factory=list)

    @property
    def is_locked(self) -> bool:
        return self.state == "locked"

    @property
    def state_label(self) -> str:
        return {"locked": "Locked", "open": "Open", "in_progress": "In progress", "completed": "Completed"}[self.state]


def free_roam(user: User) -> bool:
    return LearnerProfile.objects.filter(user=user, free_roam=True).exists()


def _join_titles(titles: list[str]) -> str:
    quoted = [f"“{title}”" for title in titles]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _locked_reason(missing: list[Node]) -> str:
    return f"Complete {_join_titles([node.title for node in missing])} first."


def published_lessons(user: User) -> QuerySet[Lesson]:
    """Lessons the user may read: published ones, and drafts too for an author previewing."""
    lessons = Lesson.objects.select_related("node")
    if user.is_authenticated and user.has_perm(AUTHOR_PERMISSION):
        return lessons
    return lessons.filter(status=Lesson.Status.PUBLISHED)


def _depths(nodes: list[Node]) -> dict[int, int]:
    """Each node's row on the map: one below its deepest prerequisite (content has no cycles)."""
    parents = {node.pk: [p.pk for p in node.prerequisites.all()] for node in nodes}
    depth: dict[int, int] = {}

    def depth_of(pk: int) -> int:
        if pk not in depth:
            depth[pk] = 1 + max((depth_of(p) for p in parents.get(pk, [])), default=-1)
        return depth[pk]

    for node in nodes:
        depth_of(node.pk)
    return depth


def lifecycle_map(*, user: User) -> list[NodeState]:
    """Every node with the learner's standing on it, laid out by depth in the prerequisite graph."""
    nodes = list(
        Node.objects.prefetch_related("prerequisites")
        .annotate(published=Count("lessons", filter=Q(lessons__status=Lesson.Status.PUBLISHED)))
        .order_by("order")  # Meta.ordering does not apply to a grouped query
    )
    completed = set(
        NodeProgress.objects.filter(user=user, completed_at__isnull=False).values_list("node_id", flat=True)
    )
    started = set(NodeProgress.objects.filter(user=user).values_list("node_id", flat=True))
    reads: dict[int, int] = dict(
        LessonRead.objects.filter(user=user, lesson__status=Lesson.Status.PUBLISHED)
        .values_list("lesson__node_id")
        .annotate(n=Count("id"))
        .values_list("lesson__node_id", "n")
    )
    depth = _depths(nodes)
    roaming = free_roam(user)
    lanes: dict[int, int] = {}
    states = []
    for node in nodes:
        parents = list(node.prerequisites.all())
        missing = [p for p in sorted(parents, key=lambda n: n.order) if p.pk not in completed]
        if node.pk in completed:
            state = "completed"
        elif missing and not roaming:
            state = "locked"
        elif node.pk in started or reads.get(node.pk):
            state = "in_progress"
        else:
            state = "open"
        lane = lanes.get(depth[node.pk], 0)
        lanes[depth[node.pk]] = lane + 1
        states.append(
            NodeState(
                node=node,
                state=state,
                reason=_locked_reason(missing) if missing and not roaming else "",
                lesson_count=node.published,
                lessons_read=reads.get(node.pk, 0),
                depth=depth[node.pk],
                lane=lane,
                prerequisite_slugs=[p.slug for p in parents],
            )
        )
    return states


def node_lock_reason(*, user: User, node: Node) -> str | None:
    """Why the learner cannot open this node yet, or None when they can."""
    completed = set(
        NodeProgress.objects.filter(user=user, completed_at__isnull=False).values_list("node_id", flat=True)
    )
    missing = [p for p in node.prerequisites.order_by("order") if p.pk not in completed]
    if not missing or free_roam(user):
        return None
    return _locked_reason(missing)


def node_lessons(*, user: User, node: Node) -> list[Lesson]:
    lessons = list(published_lessons(user).filter(node=node).order_by("order"))
    read = set(LessonRead.objects.filter(user=user, lesson__node=node).values_list("lesson_id", flat=True))
    for lesson in lessons:
        lesson.is_read = lesson.pk in read
    return lessons


def glossary_search(*, query: str) -> list[GlossaryTerm]:
    """Terms whose name or an alias contains the query, then those whose definition does."""
    terms = list(GlossaryTerm.objects.all())
    needle = query.strip().lower()
    if not needle:
        return terms
    named = [t for t in terms if needle in t.term.lower() or any(needle in a.lower() for a in t.aliases)]
    described = [t for t in terms if t not in named and needle in t.definition.lower()]
    return named + described


@dataclass
class NodeStanding:
    progress: NodeProgress | None
    challenge: ChallengeStatus | None
    attempts: list[QuizAttempt]

    @property
    def quiz_passed(self) -> bool:
        return bool(self.progress and self.progress.quiz_passed_at)

    @property
    def completed(self) -> bool:
        return bool(self.progress and self.progress.completed_at)


def node_standing(*, user: User, node: Node) -> NodeStanding:
    """What the learner has done towards completing the node: quiz attempts and the challenge."""
    return NodeStanding(
        progress=NodeProgress.objects.filter(user=user, node=node).first(),
        challenge=challenge_status(node.challenge_key, user) if node.challenge_key else None,
        attempts=list(QuizAttempt.objects.filter(user=user, node=node, mode=QuizAttempt.Mode.NODE)),
    )


def dependants_open(*, user: User, node: Node) -> list[NodeState]:
    """The stages that need this node and are open to the learner now."""
    return [s for s in lifecycle_map(user=user) if node.slug in s.prerequisite_slugs and not s.is_locked]


def most_chosen_wrong_answer(question: Question) -> str:
    """The wrong answer learners gave most often, in words, with its count."""

    wrong = question.answers.filter(correct=False).values_list("response", flat=True)
    counts: Counter = Counter()
    if question.kind in ("single", "multiple"):
        texts = {c.pk: c.text for c in question.choices.all() if not c.correct}
        for response in wrong:
            counts.update(texts[pk] for pk in response.get("choices", []) if pk in texts)
    else:
        for response in wrong:
            value = response.get("value", response.get("order"))
            counts[" → ".join(value) if isinstance(value, list) else str(value)] += 1
    if not counts:
        return ""
    text, count = counts.most_common(1)[0]
    return f"{text} ({count}×)"
