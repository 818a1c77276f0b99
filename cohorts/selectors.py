"""Reads of the cohort pages: an instructor's cohorts, the progress heatmap, question statistics, stuck learners.

Everything about a cohort is read for all its learners at once, in a number of queries that does not grow
with the cohort: a heatmap of 200 learners costs what one of 2 costs.
"""

import json
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Max,
    Q,
    QuerySet,
)
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from cohorts import statistics
from cohorts.models import Cohort, CohortMembership, StageDeadline
from lessons import question_kinds
from lessons.course import course_questions, course_snapshot
from lessons.models import Answer, LearnerProfile, LessonRead, Node, NodeProgress, Question, QuizAttempt
from sandbox.jobs.registry import job_kind
from sandbox.models import Job

FAILED_ATTEMPTS_STUCK = 3
MOST_MISSED_MIN_ANSWERS = 5
LOW_DISCRIMINATION = 0.2
NO_ANSWERS = statistics.ItemSummary(answered=0, correct=0, discrimination=None, discrimination_pairs=0)


def instructor_cohorts(*, instructor: User) -> QuerySet[Cohort]:
    """The instructor's own cohorts, newest first, each with `learner_count`."""
    return Cohort.objects.filter(instructor=instructor).annotate(learner_count=Count("memberships"))


def cohort_by_code(*, code: str) -> Cohort | None:
    """The cohort an invite code names, whatever its expiry; None for a code no cohort has."""
    return Cohort.objects.filter(invite_code=normalise_code(code)).select_related("instructor").first()


def normalise_code(code: str) -> str:
    """A code as typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())[:16]


def cohort_deadlines(*, cohort: Cohort) -> dict[int, date]:
    return dict(StageDeadline.objects.filter(cohort=cohort).values_list("node_id", "due"))


# --- the heatmap ------------------------------------------------------------------------------

STATES = {
    "locked": ("Locked", "L"),
    "open": ("Open", "O"),
    "quiz_passed": ("Quiz passed", "Q"),
    "challenge_met": ("Challenge met", "C"),
    "completed": ("Completed", "✓"),
}


@dataclass(frozen=True)
class Cell:
    state: str
    label: str
    abbreviation: str

    @property
    def html(self) -> SafeString:
        """The heatmap's cell: its letter for the eye, its label for a screen reader, its colour by class."""
        return format_html(
            '<td class="hm hm--{}"><span aria-hidden="true">{}</span><span class="visually-hidden">{}</span></td>',
            self.state,
            self.abbreviation,
            self.label,
        )


CELLS = {state: Cell(state, label, abbreviation) for state, (label, abbreviation) in STATES.items()}
_CELL_HTML = {state: cell.html for state, cell in CELLS.items()}


@dataclass
class LearnerRow:
    learner_id: int
    username: str
    joined_at: datetime
    cells: list[Cell]

    @property
    def completed(self) -> int:
        return sum(cell.state == "completed" for cell in self.cells)

    @property
    def cells_html(self) -> SafeString:
        # One string per row: a template loop over every cell resolves three variables for each of thousands.
        return mark_safe("".join(_CELL_HTML[cell.state] for cell in self.cells))


@dataclass
class Heatmap:
    stages: list[Node]
    rows: list[LearnerRow]
    legend: list[Cell] = field(default_factory=lambda: list(CELLS.values()))

    @property
    def stage_totals(self) -> list[int]:
        """How many learners completed each stage."""
        return [sum(row.cells[i].state == "completed" for row in self.rows) for i in range(len(self.stages))]


@dataclass(frozen=True)
class _Progress:
    quiz_passed: bool
    challenge_met: bool
    completed: bool


def _members(cohort: Cohort) -> list[tuple[int, str, datetime]]:
    return list(
        CohortMembership.objects.filter(cohort=cohort)
        .order_by("learner__username")
        .values_list("learner_id", "learner__username", "joined_at")
    )


def _progress(cohort: Cohort) -> dict[int, dict[int, _Progress]]:
    """Each learner's progress rows by stage, as three flags (the heatmap needs no dates)."""

    def reached(name: str) -> ExpressionWrapper:
        return ExpressionWrapper(Q(**{f"{name}__isnull": False}), output_field=BooleanField())

    rows: dict[int, dict[int, _Progress]] = defaultdict(dict)
    progress = (
        NodeProgress.objects.filter(user__cohort_memberships__cohort=cohort)
        .annotate(q=reached("quiz_passed_at"), c=reached("challenge_met_at"), d=reached("completed_at"))
        .values_list("user_id", "node_id", "q", "c", "d")
    )
    for user_id, node_id, quiz_passed, challenge_met, completed in progress:
        rows[user_id][node_id] = _Progress(bool(quiz_passed), bool(challenge_met), bool(completed))
    return rows


def _state(node: Node, progress: dict[int, _Progress], completed: set[int], roaming: bool) -> str:
    row = progress.get(node.pk)
    if row is not None:
        if row.completed:
            return "completed"
        if row.challenge_met:
            return "challenge_met"
        if row.quiz_passed:
            return "quiz_passed"
    if roaming or all(p.pk in completed for p in node.prerequisite_list):
        return "open"
    return "locked"


def _heatmap(members: list[tuple[int, str, datetime]], progress: dict[int, dict[int, _Progress]], roam: set[int]):
    stages = course_snapshot().nodes
    rows = []
    for learner_id, username, joined_at in members:
        mine = progress.get(learner_id, {})
        completed = {node_id for node_id, row in mine.items() if row.completed}
        cells = [CELLS[_state(node, mine, completed, learner_id in roam)] for node in stages]
        rows.append(LearnerRow(learner_id, username, joined_at, cells))
    return Heatmap(stages=stages, rows=rows)


def _roaming(cohort: Cohort) -> set[int]:
    profiles = LearnerProfile.objects.filter(user__cohort_memberships__cohort=cohort, free_roam=True)
    return set(profiles.values_list("user_id", flat=True))


def cohort_heatmap(*, cohort: Cohort) -> Heatmap:
    """Each learner's state on each stage, as the learner's map derives it: completed, challenge met or quiz
    passed from their progress, else open when every prerequisite is completed (or they roam freely), else
    locked."""
    return _heatmap(_members(cohort), _progress(cohort), _roaming(cohort))


# --- question statistics ----------------------------------------------------------------------


@dataclass(frozen=True)
class WrongAnswer:
    text_html: str
    """A wrong choice's rendered text, or a wrong answer given, escaped by the template."""
    share: float
    is_choice: bool = True

    @property
    def percent(self) -> int:
        return round(100 * self.share)

    @property
    def text(self) -> str:
        return plain_text(self.text_html, 60) if self.is_choice else Truncator(self.text_html).chars(60)


@lru_cache(maxsize=8192)
def plain_text(html: str, length: int) -> str:
    """Rendered Markdown as plain text cut to `length` characters, kept: the same prompts every page load."""
    return Truncator(strip_tags(html)).chars(length)


@dataclass
class QuestionStats:
    question: Question
    summary: statistics.ItemSummary
    wrong: list[WrongAnswer]
    edit_url: str | None

    @property
    def share_correct(self) -> float | None:
        return self.summary.share_correct

    @property
    def prompt_text(self) -> str:
        return plain_text(self.question.prompt_html, 100)

    @property
    def percent_correct(self) -> int | None:
        share = self.summary.share_correct
        return None if share is None else round(100 * share)

    @property
    def low_discrimination(self) -> bool:
        d = self.summary.discrimination
        return d is not None and d < LOW_DISCRIMINATION


def _edit_url(question: Question) -> str | None:
    try:
        return reverse("studio:question_edit", args=[question.pk])
    except NoReverseMatch:  # the studio's question editor is not installed in this build
        return None


def _wrong_answers(question: Question, responses: list[tuple[dict, int]], answered: int) -> list[WrongAnswer]:
    """Each wrong choice's share of the answers, or for other kinds the three wrong answers given most."""
    if not answered:
        return []
    if question.spec.has_choices:
        wrong_ids = [c.pk for c in question.choices.all() if not c.correct]
        picks = (response.get("choices", []) for response, count in responses for _ in range(count))
        shares = statistics.choice_shares(picks, wrong_ids, answered=answered)
        texts = {c.pk: c.text_html for c in question.choices.all()}
        return [WrongAnswer(texts[pk], shares.get(pk, 0.0)) for pk in wrong_ids]
    counts: dict[str, int] = defaultdict(int)
    for response, count in responses:
        value = response.get("value", response.get("order"))
        if isinstance(value, bool):
            text = "True" if value else "False"
        elif isinstance(value, list):
            text = " → ".join(map(str, value))
        else:
            text = str(value)
        counts[text] += count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
    return [WrongAnswer(text, count / answered, is_choice=False) for text, count in ranked]


Groups = dict[int, dict[tuple[bool, int, int], int]]
"""Per question: how many answers there are of each (correct, the attempt's correct, the attempt's graded)."""
WrongCounts = dict[tuple[int, str], tuple[dict, int]]
"""Per question and wrong response (as JSON text): the response and how many gave it."""


def _answer_groups(answers: QuerySet[Answer]) -> Groups:
    """The answers counted by question, rightness and their attempt's score: a few thousand rows for the whole
    cohort, from which each question's share correct and discrimination follow exactly (cohorts.statistics)."""
    keys = ("question_id", "correct", "attempt__correct", "attempt__graded")
    groups: Groups = defaultdict(dict)
    for question_id, correct, attempt_correct, graded, count in (
        answers.values(*keys).annotate(count=Count("pk")).values_list(*keys, "count")
    ):
        groups[question_id][(bool(correct), attempt_correct, graded)] = count
    return groups


@dataclass(frozen=True)
class _AnswerFigures:
    attempts: frozenset[int]
    groups: Groups
    wrong: WrongCounts
    summaries: dict[int, statistics.ItemSummary] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        summaries = {
            pk: statistics.summary_from_groups((*key, count) for key, count in counts.items())
            for pk, counts in self.groups.items()
        }
        object.__setattr__(self, "summaries", summaries)

    def plus(self, attempts: frozenset[int], groups: Groups, wrong: WrongCounts) -> "_AnswerFigures":
        """These figures with those of more attempts added: every figure is a count over attempts."""
        added = {pk: dict(counts) for pk, counts in self.groups.items()}
        for pk, counts in groups.items():
            mine = added.setdefault(pk, {})
            for key, count in counts.items():
                mine[key] = mine.get(key, 0) + count
        counted = dict(self.wrong)
        for key, (response, count) in wrong.items():
            counted[key] = (response, counted.get(key, (response, 0))[1] + count)
        return _AnswerFigures(self.attempts | attempts, added, counted)


_figures_lock = threading.Lock()
_figures: OrderedDict[tuple, _AnswerFigures] = OrderedDict()
MAX_FIGURES = 64
MAX_NEW_ATTEMPTS = 500
"""More attempts finished than this since the figures were kept, and they are read whole again."""


def _read_figures(answers: QuerySet[Answer]) -> tuple[Groups, WrongCounts]:
    # Identical wrong answers are counted by the database: a few hundred distinct responses to decode, not
    # every wrong answer of the cohort.
    wrong = answers.filter(correct=False).values("question_id", "response").annotate(count=Count("pk"))
    counts = {
        (question_id, json.dumps(response, sort_keys=True)): (response, count)
        for question_id, response, count in wrong.values_list("question_id", "response", "count")
    }
    return _answer_groups(answers), counts


def _finished_attempts(cohort: Cohort) -> QuerySet[QuizAttempt]:
    return QuizAttempt.objects.filter(
        user__cohort_memberships__cohort=cohort, mode=QuizAttempt.Mode.NODE, finished_at__isnull=False
    )


def _finished_answer_figures(cohort: Cohort, attempt_pks: list[int]) -> _AnswerFigures:
    """The answer sums and the wrong answers counted over these finished attempts, kept per process.

    A finished attempt's answers never change (an answer to it is refused), so figures kept for a set of
    attempts stay right: when more attempts finish, only their answers are read and added. Reading every
    answer of the cohort (joined to its attempt) costs most of the page; that is done for a cohort's first
    load in a process, after a learner left, or after many attempts at once.
    """
    key = (cohort.pk, cohort.created_at)
    current = frozenset(attempt_pks)
    with _figures_lock:
        kept = _figures.get(key)
    if kept is not None and kept.attempts == current:
        return kept
    if kept is not None and kept.attempts <= current and len(current - kept.attempts) <= MAX_NEW_ATTEMPTS:
        new = current - kept.attempts
        figures = kept.plus(new, *_read_figures(Answer.objects.filter(attempt_id__in=new, correct__isnull=False)))
        exact = True
    else:
        answers = Answer.objects.filter(
            attempt__user__cohort_memberships__cohort=cohort,
            attempt__mode=QuizAttempt.Mode.NODE,
            attempt__finished_at__isnull=False,
            correct__isnull=False,
        )
        figures = _AnswerFigures(current, *_read_figures(answers))
        # Kept only if the read covered exactly these attempts: none finished, left or joined meanwhile.
        exact = frozenset(_finished_attempts(cohort).values_list("pk", flat=True)) == current
    if exact and not connection.in_atomic_block:
        with _figures_lock:
            _figures[key] = figures
            _figures.move_to_end(key)
            while len(_figures) > MAX_FIGURES:
                _figures.popitem(last=False)
    return figures


def _question_stats(summaries: dict[int, statistics.ItemSummary], wrong: WrongCounts) -> list[QuestionStats]:
    responses: dict[int, list[tuple[dict, int]]] = defaultdict(list)
    for (question_id, _text), (response, count) in wrong.items():
        responses[question_id].append((response, count))
    graded = set(question_kinds.GRADED_KINDS)
    stats = []
    for question in course_questions(course_snapshot()).values():
        if question.kind not in graded:
            continue
        summary = summaries.get(question.pk, NO_ANSWERS)
        wrong_answers = _wrong_answers(question, responses.get(question.pk, []), summary.answered)
        stats.append(QuestionStats(question, summary, wrong_answers, _edit_url(question)))
    stats.sort(key=lambda s: (s.question.node.order, s.question.order, s.question.pk))
    return stats


# --- stuck learners and the report ------------------------------------------------------------


@dataclass
class LearnerReport:
    row: LearnerRow
    best_percent: list[int | None]
    last_activity: datetime
    stuck: list[str]


@dataclass
class CohortReport:
    cohort: Cohort
    heatmap: Heatmap
    learners: list[LearnerReport]
    questions: list[QuestionStats]
    deadlines: dict[int, date]
    finished_attempts: int

    @property
    def stuck(self) -> list[LearnerReport]:
        return [learner for learner in self.learners if learner.stuck]

    @property
    def most_missed(self) -> list[QuestionStats]:
        missed = [
            s for s in self.questions if statistics.is_most_missed(s.summary, min_answers=MOST_MISSED_MIN_ANSWERS)
        ]
        return sorted(missed, key=lambda s: (s.share_correct, -s.summary.answered))

    @property
    def stage_deadlines(self) -> list[date | None]:
        return [self.deadlines.get(stage.pk) for stage in self.heatmap.stages]


def _latest(values: dict[int, datetime], user_id: int, candidate: datetime | None) -> None:
    if candidate is not None and (user_id not in values or candidate > values[user_id]):
        values[user_id] = candidate


def _last_activity(cohort: Cohort, jobs: list[tuple]) -> dict[int, datetime]:
    """Each learner's latest lesson read, stage progress, quiz answer or sandbox job."""
    latest: dict[int, datetime] = {}
    members = {"user__cohort_memberships__cohort": cohort}
    reads = LessonRead.objects.filter(**members).values("user_id").annotate(at=Max("read_at"))
    for user_id, at in reads.values_list("user_id", "at"):
        _latest(latest, user_id, at)
    # A finished attempt's last answer is no later than its finish, so only answers of attempts still open
    # are read here; finished ones count by `finished_at`, from the attempts the report reads anyway.
    answered = (
        Answer.objects.filter(attempt__user__cohort_memberships__cohort=cohort, attempt__finished_at__isnull=True)
        .values("attempt__user_id")
        .annotate(at=Max("answered_at"))
        .values_list("attempt__user_id", "at")
    )
    for user_id, at in answered:
        _latest(latest, user_id, at)
    finished = QuizAttempt.objects.filter(**members, finished_at__isnull=False).values("user_id")
    for user_id, at in finished.annotate(at=Max("finished_at")).values_list("user_id", "at"):
        _latest(latest, user_id, at)
    moments = ("started_at", "quiz_passed_at", "challenge_met_at", "completed_at")
    progress = NodeProgress.objects.filter(**members).values("user_id").annotate(**{f: Max(f) for f in moments})
    for user_id, *times in progress.values_list("user_id", *moments):
        for at in times:
            _latest(latest, user_id, at)
    for owner_id, _kind, _status, created_at, finished_at in jobs:
        _latest(latest, owner_id, finished_at or created_at)
    return latest


def _failed_quizzes(attempts: list[tuple], titles: dict[int, str]) -> dict[int, list[str]]:
    """Learners with three or more failed finished attempts at one stage's quiz and no pass since."""
    trailing: dict[tuple[int, int], int] = defaultdict(int)
    for _pk, user_id, node_id, passed, _correct, _graded in attempts:  # oldest first
        trailing[(user_id, node_id)] = 0 if passed else trailing[(user_id, node_id)] + 1
    reasons: dict[int, list[str]] = defaultdict(list)
    for (user_id, node_id), failures in sorted(trailing.items()):
        if failures >= FAILED_ATTEMPTS_STUCK:
            title = titles.get(node_id, node_id)
            reasons[user_id].append(f"{failures} failed attempts at the “{title}” quiz, no pass since")
    return reasons


def _failed_jobs(jobs: list[tuple]) -> dict[int, list[str]]:
    """Learners whose latest sandbox job of some kind failed: a failure they never retried."""
    latest: dict[tuple[int, str], tuple[str, datetime]] = {}
    for owner_id, kind, status, created_at, _finished_at in jobs:  # oldest first
        latest[(owner_id, kind)] = (status, created_at)
    reasons: dict[int, list[str]] = defaultdict(list)
    for (owner_id, kind), (status, created_at) in sorted(latest.items()):
        if status == Job.Status.FAILED:
            described = job_kind(kind)
            label = described.label if described else kind
            reasons[owner_id].append(f"a failed sandbox job ({label}, {created_at:%d %b}) never retried")
    return reasons


def cohort_report(*, cohort: Cohort, now: datetime | None = None) -> CohortReport:
    """Everything the cohort page and its CSV show, read for all the cohort's learners at once.

    Question statistics count the answers of finished node-quiz attempts only, so that an attempt still
    under way moves no figure until it is scored; explain-it cards, which learners rate themselves, are left
    out. A learner is stuck when they show no activity (lesson read, stage progress, quiz answer or sandbox
    job; joining counts as the first) for the cohort's number of days, when their last three or more attempts
    at one stage's quiz failed, or when their latest sandbox job of some kind failed.
    """
    now = now or timezone.now()
    members = _members(cohort)
    progress = _progress(cohort)
    heatmap = _heatmap(members, progress, _roaming(cohort))
    attempts = list(
        _finished_attempts(cohort)
        .order_by("finished_at", "pk")
        .values_list("pk", "user_id", "node_id", "passed", "correct", "graded")
    )
    figures = _finished_answer_figures(cohort, [attempt[0] for attempt in attempts])
    questions = _question_stats(figures.summaries, figures.wrong)
    jobs = list(
        Job.objects.filter(owner__cohort_memberships__cohort=cohort)
        .order_by("created_at", "pk")
        .values_list("owner_id", "kind", "status", "created_at", "finished_at")
    )
    activity = _last_activity(cohort, jobs)
    titles = {node.pk: node.title for node in heatmap.stages}
    failed_quizzes = _failed_quizzes(attempts, titles)
    failed_jobs = _failed_jobs(jobs)
    best: dict[tuple[int, int], int] = {}
    for _pk, user_id, node_id, _passed, correct, graded in attempts:
        if graded:
            percent = round(100 * correct / graded)
            best[(user_id, node_id)] = max(percent, best.get((user_id, node_id), 0))
    idle = timedelta(days=cohort.stuck_after_days)
    learners = []
    for row in heatmap.rows:
        last = max(activity.get(row.learner_id, row.joined_at), row.joined_at)
        reasons = []
        if now - last >= idle:
            reasons.append(f"no progress for {(now - last).days} days (the cohort allows {cohort.stuck_after_days})")
        reasons += failed_quizzes.get(row.learner_id, []) + failed_jobs.get(row.learner_id, [])
        learners.append(
            LearnerReport(
                row=row,
                best_percent=[best.get((row.learner_id, stage.pk)) for stage in heatmap.stages],
                last_activity=last,
                stuck=reasons,
            )
        )
    return CohortReport(
        cohort=cohort,
        heatmap=heatmap,
        learners=learners,
        questions=questions,
        deadlines=cohort_deadlines(cohort=cohort),
        finished_attempts=len(attempts),
    )
