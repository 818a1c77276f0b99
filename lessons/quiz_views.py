from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from lessons import attempts, grading, question_kinds, selectors
from lessons.models import Question, QuizAttempt
from lessons.views import answers_locked, open_node
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused

# Charts are built as plain data; the module loads with the first chart this process draws.
charts = lazy_module("lessons.charts")


def owned_attempt(request: HttpRequest, attempt_id: int) -> QuizAttempt:
    """The learner's own attempt, or 404; for a node quiz, NodeLocked while the node is locked."""
    attempt = get_object_or_404(QuizAttempt.objects.select_related("node"), pk=attempt_id, user=request.user)
    if attempt.node is not None:
        selectors.node_require_open(user=request.user, node=attempt.node)
    return attempt


def _ordering_items(items: list[str]) -> list[tuple[int, str, list[tuple[str, bool]]]]:
    """Each item with its position and the options of its position picker, the item's own preselected.

    Built here rather than by a loop in a loop in the template, which rendered and localised every number.
    """
    numbers = [str(n) for n in range(1, len(items) + 1)]
    return [(index, item, [(n, n == numbers[index]) for n in numbers]) for index, item in enumerate(items)]


def _question_context(attempt: QuizAttempt, question: Question, answer: object = None) -> dict:
    choices = list(question.choices.all())
    shown = grading.display_choices(question, choices, seed=attempt.seed)
    context = {
        "attempt": attempt,
        "question": question,
        "number": attempt.question_ids.index(question.pk) + 1,
        "choices": list(enumerate(shown)),
        "items": _ordering_items(grading.display_items(question, seed=attempt.seed)),
        "answer": answer,
        "ratings": grading.RATINGS,
    }
    if answer is not None:
        picked = set(answer.response.get("choices", []))
        context["marked"] = [(choice, choice.pk in picked) for choice in shown]
    return context


def _status_context(request: HttpRequest, attempt: QuizAttempt) -> dict:
    answered = attempt.answers.count()
    context = {"attempt": attempt, "answered": answered, "total": len(attempt.question_ids)}
    if attempt.finished_at and attempt.node:
        context["standing"] = selectors.node_standing(user=request.user, node=attempt.node)
        context["unlocked"] = selectors.dependants_open(user=request.user, node=attempt.node)
    if attempt.finished_at and attempt.mode == QuizAttempt.Mode.INTERVIEW:
        scorecard = charts.interview_scorecard(attempt)
        context["scorecard"] = scorecard
        context["scorecard_chart"] = charts.scorecard_html(scorecard)
    return context


@login_required
@require_GET
@answers_locked
def node_quiz(request: HttpRequest, node_slug: str) -> HttpResponse:
    node = open_node(request, node_slug)
    context = {
        "node": node,
        "standing": selectors.node_standing(user=request.user, node=node),
        "question_count": node.questions.filter(kind__in=question_kinds.GRADED_KINDS).count(),
    }
    return render(request, "lessons/quiz.html", context)


@login_required
@require_POST
@answers_locked
def node_quiz_start(request: HttpRequest, node_slug: str) -> HttpResponse:
    node = open_node(request, node_slug)
    try:
        attempt = attempts.attempt_start_node(user=request.user, node=node)
    except attempts.AttemptRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("lessons:quiz", node.slug)
    return redirect("lessons:attempt", attempt.pk)


@login_required
@require_GET
@answers_locked
def attempt_detail(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = attempts.attempt_as_of(owned_attempt(request, attempt_id))
    questions = {
        q.pk: q
        for q in Question.objects.filter(pk__in=attempt.question_ids).select_related("node").prefetch_related("choices")
    }
    answers = {a.question_id: a for a in attempt.answers.all()}
    ordered = [questions[pk] for pk in attempt.question_ids if pk in questions]
    if attempt.mode == QuizAttempt.Mode.INTERVIEW:
        # One question at a time: the first not yet answered.
        ordered = [q for q in ordered if q.pk not in answers][:1] if not attempt.finished_at else []
    context = {
        **_status_context(request, attempt),
        "questions": [_question_context(attempt, q, answers.get(q.pk)) for q in ordered],
        "time_left": attempts.time_left(attempt),
    }
    return render(request, "lessons/attempt.html", context)


@login_required
@require_POST
@answers_locked
def answer(request: HttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    attempt = owned_attempt(request, attempt_id)
    question = get_object_or_404(Question, pk=question_id)
    if question.pk not in attempt.question_ids:
        raise attempts.AttemptRefused("That question is not part of this attempt.", status=400)
    try:
        saved = attempts.answer_submit(attempt=attempt, question=question, data=request.POST)
    except Refused as refusal:
        # Shown inside the question, so the learner can correct the answer in place.
        context = {**_question_context(attempt, question), "error": refusal.message}
        return render(request, "lessons/partials/question.html", context, status=refusal.status)
    attempt.refresh_from_db()
    context = {**_question_context(attempt, question, saved), **_status_context(request, attempt), "oob": True}
    if not request.htmx:
        return redirect("lessons:attempt", attempt.pk)
    return render(request, "lessons/partials/answered.html", context)


@login_required
@require_GET
@answers_locked
def reveal(request: HttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    """An explain-it card's model answer, with the self-rating buttons."""
    attempt = owned_attempt(request, attempt_id)
    question = get_object_or_404(Question, pk=question_id, kind=Question.Kind.EXPLAIN)
    if question.pk not in attempt.question_ids:
        raise attempts.AttemptRefused("That question is not part of this attempt.", status=400)
    context = {**_question_context(attempt, question), "revealed": True}
    return render(request, "lessons/partials/question.html", context)
