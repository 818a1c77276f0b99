from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from lessons import attempts, selectors
from lessons.models import Node
from lessons.quiz_views import owned_attempt
from lessons.views import answers_locked
from mlopslab.lazy import lazy_module

# Charts are built as plain data; the module loads with the first chart this process draws.
charts = lazy_module("lessons.charts")


@login_required
@require_GET
def interview_home(request: HttpRequest) -> HttpResponse:
    sessions = selectors.interview_sessions(user=request.user)
    context = {
        "nodes": Node.objects.all(),
        "minutes": attempts.INTERVIEW_MINUTES,
        "sessions": sessions,
        "history_chart": charts.history_html(sessions) if sessions else "",
        "due": attempts.reviews_due(user=request.user).count(),
        "open_session": selectors.open_interview(user=request.user),
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
    except attempts.AttemptRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("lessons:interview")
    return redirect("lessons:attempt", attempt.pk)


@login_required
@require_POST
def review_start(request: HttpRequest) -> HttpResponse:
    try:
        attempt = attempts.attempt_start_review(user=request.user)
    except attempts.AttemptRefused as refusal:
        messages.info(request, refusal.message)
        return redirect("lessons:interview")
    return redirect("lessons:attempt", attempt.pk)


@login_required
@require_POST
@answers_locked
def attempt_end(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = owned_attempt(request, attempt_id)
    attempts.attempt_finish(attempt=attempt)
    return redirect("lessons:attempt", attempt.pk)
