from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from lessons import attempts, grading, question_forms, question_kinds, selectors
from lessons.course import course_questions, course_snapshot
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


def _unanswered_html(
    request: HttpRequest,
    attempt: QuizAttempt,
    question: Question,
    *,
    error: str | None = None,
    revealed: bool = False,
    csrf_token: str | None = None,
) -> SafeString:
    """The question before its answer, written by `question_forms` (a template per question cost most of a
    quiz page). The page's one CSRF token serves every form on it."""
    args = (attempt.pk, question.pk)
    kind = question.spec
    form = question_forms.QuestionForm(
        question=question,
        number=attempt.question_ids.index(question.pk) + 1,
        answer_url=reverse("lessons:answer", args=args),
        reveal_url=reverse("lessons:reveal", args=args) if kind.has_model_answer else "",
        csrf_token=csrf_token or get_token(request),
        choices=list(enumerate(grading.display_choices(question, question.choices.all(), seed=attempt.seed)))
        if kind.has_choices
        else (),
        items=grading.display_items(question, seed=attempt.seed) if question.kind == Question.Kind.ORDERING else (),
        ratings=grading.RATINGS,
        error=error,
        revealed=revealed,
    )
    return question_forms.question_html(form)


def _answered_context(attempt: QuizAttempt, question: Question, answer: object) -> dict:
    """What `answered_question.html` shows: the learner's answer beside the key."""
    picked = set(answer.response.get("choices", []))
    shown = grading.display_choices(question, question.choices.all(), seed=attempt.seed)
    return {
        "attempt": attempt,
        "question": question,
        "number": attempt.question_ids.index(question.pk) + 1,
        "answer": answer,
        "ratings": grading.RATINGS,
        "marked": [(choice, choice.pk in picked) for choice in shown],
    }


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
    questions = course_questions(course_snapshot())
    answers = {a.question_id: a for a in attempt.answers.all()}
    ordered = [questions[pk] for pk in attempt.question_ids if pk in questions]
    token = get_token(request)
    if attempt.mode == QuizAttempt.Mode.INTERVIEW:
        # One question at a time: the first not yet answered.
        ordered = [q for q in ordered if q.pk not in answers][:1] if not attempt.finished_at else []
    context = {
        **_status_context(request, attempt),
        "questions": [
            _answered_context(attempt, q, answers[q.pk])
            if q.pk in answers
            else {"html": _unanswered_html(request, attempt, q, csrf_token=token)}
            for q in ordered
        ],
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
        html = _unanswered_html(request, attempt, question, error=refusal.message)
        return HttpResponse(html, status=refusal.status)
    attempt.refresh_from_db()
    context = {**_answered_context(attempt, question, saved), **_status_context(request, attempt), "oob": True}
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
    return HttpResponse(_unanswered_html(request, attempt, question, revealed=True))
