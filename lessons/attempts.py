"""Use cases of quizzes: node quizzes, timed interview sessions, reviews, completion and the review queue."""

import copy
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from fsrs import Card, Rating, Scheduler

from lessons import grading, question_kinds
from lessons.challenges import challenge_status
from lessons.models import Answer, Node, NodeProgress, Question, QuizAttempt, ReviewCard
from mlopslab.refusals import Refused

INTERVIEW_MINUTES = (10, 20, 30)
REVIEW_BATCH = 20
SCHEDULER = Scheduler(desired_retention=0.9)
FORGED_FIELDS = {"score", "correct", "passed", "percent", "graded"}


class AttemptRefused(Refused):
    """A quiz use case declined, having changed nothing: 409 for a replay or a finished attempt, 422 for bad
    settings, 400 for a forged field or a question that is not in the attempt."""


def _new_attempt(*, user: User, mode: str, question_ids: list[int], **fields: object) -> QuizAttempt:
    seed = secrets.randbelow(2**31)
    order = grading.shuffled(question_ids, seed=seed, salt="questions")
    graded = Question.objects.filter(pk__in=question_ids, kind__in=question_kinds.GRADED_KINDS).count()
    return QuizAttempt.objects.create(user=user, mode=mode, seed=seed, question_ids=order, graded=graded, **fields)


def attempt_start_node(*, user: User, node: Node) -> QuizAttempt:
    """A fresh, freshly shuffled attempt at the node's graded questions; an unfinished one is closed."""
    ids = list(node.questions.filter(kind__in=question_kinds.GRADED_KINDS).values_list("pk", flat=True))
    if not ids:
        raise AttemptRefused("This stage has no quiz questions yet.", status=409)
    with transaction.atomic():
        for open_attempt in QuizAttempt.objects.filter(user=user, node=node, finished_at__isnull=True):
            _finish(open_attempt)
        return _new_attempt(user=user, mode=QuizAttempt.Mode.NODE, question_ids=ids, node=node)


def attempt_start_interview(*, user: User, stages: list[Node], minutes: int) -> QuizAttempt:
    if minutes not in INTERVIEW_MINUTES:
        raise AttemptRefused(f"Choose a length of {', '.join(map(str, INTERVIEW_MINUTES))} minutes.", status=422)
    if not stages:
        raise AttemptRefused("Choose at least one stage.", status=422)
    ids = list(Question.objects.filter(node__in=stages).values_list("pk", flat=True))
    if not ids:
        raise AttemptRefused("The chosen stages have no questions yet.", status=422)
    return _new_attempt(
        user=user,
        mode=QuizAttempt.Mode.INTERVIEW,
        question_ids=ids,
        stages=[node.slug for node in stages],
        deadline=timezone.now() + timedelta(minutes=minutes),
    )


def attempt_start_review(*, user: User, now: datetime | None = None) -> QuizAttempt:
    due = reviews_due(user=user, now=now).order_by("due").values_list("question_id", flat=True)[:REVIEW_BATCH]
    ids = list(due)
    if not ids:
        raise AttemptRefused("Nothing is due for review. Come back later.", status=409)
    return _new_attempt(user=user, mode=QuizAttempt.Mode.REVIEW, question_ids=ids)


def reviews_due(*, user: User, now: datetime | None = None) -> QuerySet[ReviewCard]:
    return ReviewCard.objects.filter(user=user, due__lte=now or timezone.now())


def time_left(attempt: QuizAttempt, now: datetime | None = None) -> timedelta | None:
    if attempt.deadline is None:
        return None
    return max(timedelta(0), attempt.deadline - (now or timezone.now()))


def answer_submit(
    *, attempt: QuizAttempt, question: Question, data: Mapping[str, object], now: datetime | None = None
) -> Answer:
    """Grade and store one answer; refuse, changing nothing, a replay, a late answer or a forged field."""
    now = now or timezone.now()
    if FORGED_FIELDS & set(data.keys()):
        raise AttemptRefused("Answers are graded on the server; a score cannot be submitted.", status=400)
    if question.pk not in attempt.question_ids:
        raise AttemptRefused("That question is not part of this attempt.", status=400)
    if attempt.finished_at is not None:
        raise AttemptRefused("This attempt is already finished.", status=409)
    if attempt.deadline is not None and now >= attempt.deadline:
        _finish(attempt, now=now)
        raise AttemptRefused("Time is up: the session has ended.", status=409)
    choices = list(question.choices.all())
    response = question_kinds.parse_answer(question, choices, data, seed=attempt.seed)
    correct = question_kinds.is_correct(question, choices, response)
    try:
        with transaction.atomic():
            answer = Answer.objects.create(
                attempt=attempt, question=question, response=response, correct=correct, rating=response.get("rating")
            )
    except IntegrityError:
        raise AttemptRefused("This question has already been answered in this attempt.", status=409) from None
    review_record(user=attempt.user, question=question, correct=correct, rating=response.get("rating"), now=now)
    if attempt.answers.count() == len(attempt.question_ids):
        _finish(attempt, now=now)
    return answer


def _score(attempt: QuizAttempt, answers: list[Answer], *, now: datetime) -> None:
    """Set the attempt's result fields from its answers, in memory."""
    attempt.correct = sum(1 for a in answers if a.correct)
    attempt.finished_at = now
    if attempt.mode != QuizAttempt.Mode.NODE:
        # A timed session is scored on what the learner reached, not on the whole pool.
        attempt.graded = sum(1 for a in answers if a.correct is not None)
    else:
        attempt.passed = attempt.graded > 0 and 100 * attempt.correct >= attempt.node.pass_mark * attempt.graded


def _finish(attempt: QuizAttempt, *, now: datetime | None = None) -> None:
    """Close the attempt with its score; a passed node quiz may complete the node."""
    _score(attempt, list(attempt.answers.all()), now=now or timezone.now())
    attempt.save(update_fields=["correct", "graded", "finished_at", "passed"])
    if attempt.passed:
        progress, _ = NodeProgress.objects.get_or_create(user=attempt.user, node=attempt.node)
        if progress.quiz_passed_at is None:
            progress.quiz_passed_at = attempt.finished_at
            progress.save(update_fields=["quiz_passed_at"])
        progress_refresh(user=attempt.user, nodes=[attempt.node])


def attempt_finish(*, attempt: QuizAttempt) -> None:
    """End a session early, scoring what was answered."""
    if attempt.finished_at is None:
        _finish(attempt)


def is_expired(attempt: QuizAttempt, now: datetime | None = None) -> bool:
    return attempt.deadline is not None and (now or timezone.now()) >= attempt.deadline


def attempt_as_of(attempt: QuizAttempt, *, now: datetime | None = None) -> QuizAttempt:
    """The attempt as it stands: a session past its deadline reads as finished and scored at its deadline.

    Only a copy in memory is scored, so that a page can be read without a write; the row itself is
    finished by the next answer sent to it or by ending the session.
    """
    if attempt.finished_at is not None or not is_expired(attempt, now):
        return attempt
    ended = copy.copy(attempt)
    _score(ended, list(attempt.answers.all()), now=attempt.deadline)
    return ended


def progress_refresh(*, user: User, nodes: list[Node] | None = None) -> list[Node]:
    """Record each challenge the learner meets now, then complete every node whose quiz is passed and whose
    challenge has been met; return the nodes completed now.

    A challenge once met stays met: a later action that no longer satisfies its check (comparing two runs
    after three) takes nothing away. A node's dependants need no update of their own: the map derives
    "unlocked" from completion. Call it after an event that can change a check's answer, never from a GET.
    """
    candidates = Node.objects.all() if nodes is None else Node.objects.filter(pk__in=[node.pk for node in nodes])
    rows = {row.node_id: row for row in NodeProgress.objects.filter(user=user, node__in=candidates)}
    completed = []
    for node in candidates:
        row = rows.get(node.pk)
        if row is not None and row.completed_at is not None:
            continue
        status = None
        if node.challenge_key and (row is None or row.challenge_met_at is None):
            status = challenge_status(node.challenge_key, user)
            if status is not None and status.met:
                row = _record_challenge_met(user=user, node=node)
        if row is None or row.quiz_passed_at is None:
            continue
        if row.challenge_met_at is None and status is not None:
            continue
        now = timezone.now()
        row.challenge_met_at = row.challenge_met_at or now
        row.completed_at = now
        row.save(update_fields=["challenge_met_at", "completed_at"])
        completed.append(node)
    return completed


def _record_challenge_met(*, user: User, node: Node) -> NodeProgress:
    """Note the first moment the learner met the node's challenge; a moment already noted is kept."""
    row, _ = NodeProgress.objects.get_or_create(user=user, node=node)
    # Conditional, so that two events arriving together keep the earlier moment.
    NodeProgress.objects.filter(pk=row.pk, challenge_met_at__isnull=True).update(challenge_met_at=timezone.now())
    row.refresh_from_db(fields=["challenge_met_at"])
    return row


def review_record(
    *, user: User, question: Question, correct: bool | None, rating: int | None, now: datetime | None = None
) -> ReviewCard | None:
    """Schedule the question with FSRS after an answer.

    A missed question or a card rated Again or Hard enters the queue; a question
    already in the queue is rescheduled by every answer to it.
    """
    now = now or timezone.now()
    fsrs_rating = Rating(rating) if rating else (Rating.Good if correct else Rating.Again)
    card_row = ReviewCard.objects.filter(user=user, question=question).first()
    if card_row is None:
        if fsrs_rating not in (Rating.Again, Rating.Hard):
            return None
        card_row = ReviewCard(user=user, question=question)
        card = Card(due=now)
    else:
        card = Card.from_dict(card_row.state)
    card, _ = SCHEDULER.review_card(card, fsrs_rating, review_datetime=now)
    card_row.state = card.to_dict()
    card_row.due = card.due
    card_row.reviews += 1
    card_row.last_rating = int(fsrs_rating)
    card_row.save()
    return card_row
