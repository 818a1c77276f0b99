import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.safestring import SafeString

from lessons.attempts import attempt_as_of
from lessons.challenges import ChallengeStatus, challenge_status
from lessons.course import course_snapshot
from lessons.models import (
    GlossaryTerm,
    LearnerProfile,
    Lesson,
    LessonRead,
    Node,
    NodeProgress,
    Question,
    QuizAttempt,
    ReviewCard,
)
from lessons.rendering import mark_locked_links
from mlopslab.refusals import Refused

AUTHOR_PERMISSION = "lessons.author_content"


class NodeLocked(Refused):
    """The stage is locked for this learner; `missing` are the prerequisites still to complete."""

    def __init__(self, node: Node, missing: list[Node]) -> None:
        super().__init__(_locked_reason(missing), status=403)
        self.node = node
        self.missing = missing


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


_standing_writes = [0]
"""Bumped by every save or delete of a learner's progress, reads or profile in this process."""


def _standing_written(**_: object) -> None:
    _standing_writes[0] += 1


for _model in (NodeProgress, LessonRead, LearnerProfile, ReviewCard):
    post_save.connect(_standing_written, sender=_model, dispatch_uid=f"standing-save-{_model.__name__}")
    post_delete.connect(_standing_written, sender=_model, dispatch_uid=f"standing-delete-{_model.__name__}")
for _through in (User.user_permissions.through, User.groups.through, Group.permissions.through):
    m2m_changed.connect(_standing_written, sender=_through, dispatch_uid=f"standing-perms-{_through.__name__}")


@dataclass(frozen=True)
class Standing:
    """What one learner has done across the course, read once per request (see `learner_standing`)."""

    completed: frozenset[int]
    started: frozenset[int]
    reads: frozenset[int]
    """Ids of the lessons the learner has read."""
    author: bool
    """Holds the authoring permission (directly or through a group), or is a superuser."""
    free_roam: bool
    reviews_due: int
    writes: int = 0

    @property
    def roaming(self) -> bool:
        return self.author or self.free_roam


def _standing_sql() -> str:
    """Every row `learner_standing` needs, in one round trip: progress, reads, reviews due, free roam, author."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    table = {
        "progress": NodeProgress._meta.db_table,
        "read": LessonRead._meta.db_table,
        "card": ReviewCard._meta.db_table,
        "profile": LearnerProfile._meta.db_table,
        "perm": Permission._meta.db_table,
        "ctype": ContentType._meta.db_table,
        "user_perms": User.user_permissions.through._meta.db_table,
        "user_groups": User.groups.through._meta.db_table,
        "group_perms": Group.permissions.through._meta.db_table,
    }
    permission = "JOIN {perm} p ON p.id = x.permission_id JOIN {ctype} ct ON ct.id = p.content_type_id".format(**table)
    wanted = "p.codename = %s AND ct.app_label = %s"
    return (
        "SELECT 1, node_id, CASE WHEN completed_at IS NULL THEN 0 ELSE 1 END FROM {progress} WHERE user_id = %s"
        " UNION ALL SELECT 2, lesson_id, 0 FROM {read} WHERE user_id = %s"
        " UNION ALL SELECT 3, COUNT(*), 0 FROM {card} WHERE user_id = %s AND due <= %s"
        " UNION ALL SELECT 4,"
        " CASE WHEN EXISTS (SELECT 1 FROM {profile} WHERE user_id = %s AND free_roam = %s) THEN 1 ELSE 0 END,"
        " CASE WHEN EXISTS (SELECT 1 FROM {user_perms} x " + permission + " WHERE x.user_id = %s AND " + wanted + ")"
        " OR EXISTS (SELECT 1 FROM {user_groups} ug JOIN {group_perms} x ON x.group_id = ug.group_id "
        + permission
        + " WHERE ug.user_id = %s AND "
        + wanted
        + ") THEN 1 ELSE 0 END"
    ).format(**table)


def learner_standing(user: User) -> Standing:
    """The learner's stages, reads, reviews due, free roam and authoring, in one query kept on the user object.

    What ModelBackend.has_perm, a free-roam lookup, reviews_due().count() and two progress queries asked in six
    round trips on every page. Kept for the request: any save or delete of progress, reads, review cards,
    profile or permissions in this process makes the next call read again.
    """
    cached = getattr(user, "_lab_standing", None)
    if cached is not None and cached.writes == _standing_writes[0]:
        return cached
    writes = _standing_writes[0]
    app_label, codename = AUTHOR_PERMISSION.split(".")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [user.pk, user.pk, user.pk, now, user.pk, True, user.pk, codename, app_label, user.pk, codename, app_label]
    with connection.cursor() as cursor:
        cursor.execute(_standing_sql(), params)
        rows = cursor.fetchall()
    completed, started, reads, reviews, roam, granted = set(), set(), set(), 0, False, False
    for kind, value, flag in rows:
        if kind == 1:
            started.add(value)
            if flag:
                completed.add(value)
        elif kind == 2:
            reads.add(value)
        elif kind == 3:
            reviews = value
        else:
            roam, granted = bool(value), bool(flag)
    standing = Standing(
        completed=frozenset(completed),
        started=frozenset(started),
        reads=frozenset(reads),
        author=user.is_active and (user.is_superuser or granted),
        free_roam=roam,
        reviews_due=reviews,
        writes=writes,
    )
    user._lab_standing = standing
    return standing


def learner_profile(*, user: User) -> LearnerProfile:
    """The learner's profile, or an unsaved one with the defaults when they never changed it."""
    return LearnerProfile.objects.filter(user=user).first() or LearnerProfile(user=user)


def is_author(user: User) -> bool:
    """Whether the user may author the course: the permission, held directly or through a group, or superuser."""
    return user.is_authenticated and learner_standing(user).author


def _join_titles(titles: list[str]) -> str:
    quoted = [f"“{title}”" for title in titles]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _locked_reason(missing: list[Node]) -> str:
    return f"Complete {_join_titles([node.title for node in missing])} first."


def link_lock_note(missing: list[Node]) -> str:
    """What a lesson's link to a locked stage says in place of leading there."""
    return f"Locked: complete {_join_titles([node.title for node in missing])} first"


def published_lessons(user: User) -> QuerySet[Lesson]:
    """Lessons the user may read: published ones, and drafts too for an author previewing."""
    lessons = Lesson.objects.select_related("node")
    if is_author(user):
        return lessons
    return lessons.filter(status=Lesson.Status.PUBLISHED)


def prerequisite_graph(*, without_node: int | None = None) -> dict[int, list[int]]:
    """The stored prerequisites, each node's pk to the pks it requires; `without_node`'s own left out."""
    graph: dict[int, list[int]] = {pk: [] for pk in Node.objects.values_list("pk", flat=True)}
    edges = Node.prerequisites.through.objects.exclude(from_node_id=without_node)
    for node_id, required_id in edges.values_list("from_node_id", "to_node_id"):
        graph[node_id].append(required_id)
    return graph


def cycle_titles(cycle: list[int]) -> str:
    titles = dict(Node.objects.filter(pk__in=cycle).values_list("pk", "title"))
    return " → ".join(f"“{titles.get(pk, pk)}”" for pk in cycle)


def map_problem() -> str:
    """What is wrong with the map's data for a learner to read, or "" when nothing is."""
    cycle = course_snapshot().cycle
    if cycle is None:
        return ""
    return (
        f"Some stages require each other ({cycle_titles(cycle)}), "
        "so they cannot open until an instructor fixes their prerequisites."
    )


def lifecycle_map(*, user: User) -> list[NodeState]:
    """Every node with the learner's standing on it, laid out by depth in the prerequisite graph."""
    course = course_snapshot()
    standing = learner_standing(user)
    completed, started, roaming = standing.completed, standing.started, standing.roaming
    reads: Counter[int] = Counter(course.lesson_node[pk] for pk in standing.reads if pk in course.lesson_node)
    states = []
    for node in course.nodes:
        parents = node.prerequisite_list
        missing = [p for p in parents if p.pk not in completed]
        if node.pk in completed:
            state = "completed"
        elif missing and not roaming:
            state = "locked"
        elif node.pk in started or reads.get(node.pk):
            state = "in_progress"
        else:
            state = "open"
        states.append(
            NodeState(
                node=node,
                state=state,
                reason=_locked_reason(missing) if missing and not roaming else "",
                lesson_count=node.published,
                lessons_read=reads.get(node.pk, 0),
                depth=course.depth[node.pk],
                lane=course.lane[node.pk],
                prerequisite_slugs=[p.slug for p in parents],
            )
        )
    return states


def node_require_open(*, user: User, node: Node) -> None:
    """Raise NodeLocked unless the learner may open the node now."""
    course = course_snapshot()
    known = course.by_pk.get(node.pk)
    parents = known.prerequisite_list if known is not None else list(node.prerequisites.order_by("order"))
    standing = learner_standing(user)
    missing = [p for p in parents if p.pk not in standing.completed]
    if missing and not standing.roaming:
        raise NodeLocked(node, missing)


def locked_nodes(*, user: User) -> dict[str, list[Node]]:
    """Every stage locked for the learner, by slug, with the prerequisites it waits for."""
    standing = learner_standing(user)
    if standing.roaming:
        return {}
    locked = {}
    for node in course_snapshot().nodes:
        missing = [p for p in node.prerequisite_list if p.pk not in standing.completed]
        if missing:
            locked[node.slug] = missing
    return locked


@dataclass(frozen=True)
class LessonEntry:
    """A lesson in a stage's list, with whether this learner has read it."""

    lesson: Lesson
    is_read: bool

    def __getattr__(self, name: str) -> object:
        return getattr(self.lesson, name)


def node_lessons(*, user: User, node: Node) -> list[LessonEntry]:
    """The stage's lessons in order, each marked read or not: the published ones, drafts too for an author."""
    if is_author(user):
        lessons = list(Lesson.objects.filter(node=node).defer("source", "html", "toc").order_by("order"))
    else:
        lessons = course_snapshot().lessons.get(node.pk, [])
    reads = learner_standing(user).reads
    return [LessonEntry(lesson, lesson.pk in reads) for lesson in lessons]


def glossary_search(*, query: str) -> list[GlossaryTerm]:
    """Terms whose name or an alias contains the query, then those whose definition does."""
    terms = course_snapshot().glossary
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
    """What the learner has done towards completing the node: quiz attempts and the challenge.

    A challenge met once shows every step met, whatever its check answers now.
    """
    progress = NodeProgress.objects.filter(user=user, node=node).first()
    return NodeStanding(
        progress=progress,
        challenge=_challenge(user, node, progress),
        attempts=list(QuizAttempt.objects.filter(user=user, node=node, mode=QuizAttempt.Mode.NODE)),
    )


def _challenge(user: User, node: Node, progress: NodeProgress | None) -> ChallengeStatus | None:
    status = challenge_status(node.challenge_key, user) if node.challenge_key else None
    if status is not None and progress is not None and progress.challenge_met_at is not None:
        return status.all_met()
    return status


def dependants_open(*, user: User, node: Node) -> list[NodeState]:
    """The stages that need this node and are open to the learner now."""
    return [s for s in lifecycle_map(user=user) if node.slug in s.prerequisite_slugs and not s.is_locked]


def most_chosen_wrong_answer(question: Question) -> str:
    """The wrong answer learners gave most often, in words, with its count."""

    wrong = question.answers.filter(correct=False).values_list("response", flat=True)
    counts: Counter = Counter()
    if question.spec.has_choices:
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


def lesson_html(*, user: User, lesson: Lesson) -> SafeString:
    """The lesson's stored HTML with each link into a stage that is locked for this learner marked as such."""
    notes = {slug: link_lock_note(missing) for slug, missing in locked_nodes(user=user).items()}
    return mark_locked_links(lesson.html, notes)


def interview_sessions(*, user: User, now: datetime | None = None) -> list[QuizAttempt]:
    """The learner's ended interview sessions that reached a graded question, newest first, at most 50."""
    now = now or timezone.now()
    ended = QuizAttempt.objects.filter(user=user, mode=QuizAttempt.Mode.INTERVIEW).filter(
        Q(finished_at__isnull=False) | Q(deadline__lte=now)
    )
    sessions = [attempt_as_of(attempt, now=now) for attempt in ended[:50]]
    return [session for session in sessions if session.graded > 0]


def open_interview(*, user: User, now: datetime | None = None) -> QuizAttempt | None:
    """The learner's interview session still running, if any."""
    return (
        QuizAttempt.objects.filter(user=user, mode=QuizAttempt.Mode.INTERVIEW, finished_at__isnull=True)
        .filter(Q(deadline__isnull=True) | Q(deadline__gt=now or timezone.now()))
        .first()
    )


@dataclass(frozen=True)
class CourseProgress:
    stages_total: int
    stages_completed: int
    lessons_total: int
    lessons_read: int

    @property
    def complete(self) -> bool:
        return self.stages_total > 0 and self.stages_completed == self.stages_total

    @property
    def percent(self) -> int:
        """Half for lessons read and half for stages completed, rounded down so that 100 means all of it."""
        stages = self.stages_completed / self.stages_total if self.stages_total else 0.0
        if not self.lessons_total:
            return math.floor(100 * stages)
        return math.floor(50 * self.lessons_read / self.lessons_total + 50 * stages)


def course_progress(states: list[NodeState]) -> CourseProgress:
    """How far the learner is through the course, from the map's node states."""
    return CourseProgress(
        stages_total=len(states),
        stages_completed=sum(s.state == "completed" for s in states),
        lessons_total=sum(s.lesson_count for s in states),
        lessons_read=sum(s.lessons_read for s in states),
    )


@dataclass
class StageRecord:
    state: NodeState
    progress: NodeProgress | None
    challenge: ChallengeStatus | None
    quiz_attempts: int
    best_percent: int | None

    @property
    def node(self) -> Node:
        return self.state.node

    @property
    def completed(self) -> bool:
        return self.state.state == "completed"

    @property
    def quiz_passed(self) -> bool:
        return bool(self.progress and self.progress.quiz_passed_at)

    @property
    def steps_met(self) -> int:
        return sum(done for _, done in self.challenge.steps) if self.challenge else 0

    @property
    def to_do(self) -> list[str]:
        """What the learner still has to do on this open stage, in words."""
        left = [] if self.quiz_passed else ["pass its quiz"]
        if self.challenge and not self.challenge.met:
            left.append(f"meet its challenge ({self.steps_met} of {len(self.challenge.steps)} steps done)")
        return left


@dataclass
class CourseRecord:
    progress: CourseProgress
    stages: list[StageRecord]
    interview_sessions: list[QuizAttempt]
    reviews_done: int

    @property
    def remaining(self) -> list[StageRecord]:
        return [stage for stage in self.stages if not stage.completed]

    @property
    def quiz_attempts(self) -> int:
        return sum(stage.quiz_attempts for stage in self.stages)

    @property
    def best_interview_percent(self) -> int | None:
        return max((session.percent for session in self.interview_sessions), default=None)


def course_record(*, user: User) -> CourseRecord:
    """What the learner did across the course: each stage with its dates, reading, quiz and challenge,
    then interview sessions and reviews. Sandbox work shows through each stage's challenge steps."""
    states = lifecycle_map(user=user)
    rows = {row.node_id: row for row in NodeProgress.objects.filter(user=user)}
    attempts: dict[int, list[QuizAttempt]] = {}
    for attempt in QuizAttempt.objects.filter(user=user, mode=QuizAttempt.Mode.NODE, finished_at__isnull=False):
        attempts.setdefault(attempt.node_id, []).append(attempt)
    stages = []
    for state in states:
        node_attempts = attempts.get(state.node.pk, [])
        progress = rows.get(state.node.pk)
        stages.append(
            StageRecord(
                state=state,
                progress=progress,
                challenge=_challenge(user, state.node, progress),
                quiz_attempts=len(node_attempts),
                best_percent=max((a.percent for a in node_attempts if a.graded), default=None),
            )
        )
    return CourseRecord(
        progress=course_progress(states),
        stages=stages,
        interview_sessions=interview_sessions(user=user),
        reviews_done=QuizAttempt.objects.filter(
            user=user, mode=QuizAttempt.Mode.REVIEW, finished_at__isnull=False
        ).count(),
    )
