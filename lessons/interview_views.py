from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from lessons import attempts, charts
from lessons.models import Node, QuizAttempt
from lessons.quiz_views import owned_attempt


@login_required
@require_GET
def interview_home(request: HttpRequest) -> HttpResponse:
    sessions = list(
        QuizAttempt.objects.filter(
            user=request.user, mode=QuizAttempt.Mode.INTERVIEW, finished_at__isnull=False, graded__gt=0
        )[:50]
    )
    context = {
        "nodes": Node.objects.all(),
        "minutes": attempts.INTERVIEW_MINUTES,
        "sessions": sessions,
        "history_chart": charts.history_html(sessions) if sessions else "",
        "due": attempts.reviews_due(user=request.user).count(),
        "open_session": QuizAttempt.objects.filter(
            user=request.user, mode=QuizAttempt.Mode.INTERVIEW, finished_at__isnull=True
        ).first(),
    }
    return render(request, "lessons/interview.html", context)


@login_required
@require_POST
def interview_start(request: HttpRequest) -> HttpResponse:
    stages = list(Node.objects.filter(slug__in=request.POST.getlist("stages")))
    try:
        minutes = int(request.POST.get("minutes", ""))
    except ValueError:
        minutes = 0
    try:
        attempt = attempts.attempt_start_interview(user=request.user, stages=stages, minutes=minutes)
    except attempts.AttemptRefused as exc:
        messages.error(request, exc.message)
        return redirect("lessons:interview")
    return redirect("lessons:attempt", attempt.pk)


@login_required
@require_POST
def review_start(request: HttpRequest) -> HttpResponse:
    try:
        attempt = attempts.attempt_start_review(user=request.user)
    except attempts.AttemptRefused as exc:
        messages.info(request, exc.message)
        return redirect("lessons:interview")
    return redirect("lessons:attempt", attempt.pk)


@login_required
@require_POST
def attempt_end(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt, refused = owned_attempt(request, attempt_id)
    if refused:
        return refused
    attempts.attempt_finish(attempt=attempt)
    return redirect("lessons:attempt", attempt.pk)
