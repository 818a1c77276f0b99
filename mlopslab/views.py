import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mlopslab.broker import redis_problem
from mlopslab.forms import SignupForm


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("lessons:map")
    return render(request, "home.html")


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome to MLOps Lab, {user.username}.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


def _database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return str(exc) or type(exc).__name__
    return None


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    problems = {"database": _database_problem(), "redis": redis_problem(settings.REDIS_URL)}
    body = {name: "ok" if problem is None else f"error: {problem}" for name, problem in problems.items()}
    body["seconds"] = round(time.monotonic() - started, 3)
    healthy = all(problem is None for problem in problems.values())
    return JsonResponse(body, status=200 if healthy else 503)
