import time
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mlopslab.broker import redis_location, redis_problem, workers_answering
from mlopslab.celery import app as celery_app
from mlopslab.forms import SignupForm

WORKER_PING_SECONDS = 1.0


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


@dataclass(frozen=True)
class Check:
    """One part of the system as the status page shows it; `state` is "ok", "problem" or "skipped"."""

    key: str
    title: str
    location: str
    state: str
    detail: str


def _database_location() -> str:
    database = settings.DATABASES["default"]
    vendor = connection.display_name
    if connection.vendor == "sqlite":
        return f"{vendor} file {PurePath(str(database['NAME'])).name}"
    host = database.get("HOST") or "localhost"
    port = database.get("PORT") or {"postgresql": 5432, "mysql": 3306}.get(connection.vendor, "default port")
    return f"{vendor} at {host}:{port}"


def _without_secrets(text: str) -> str:
    """Drivers sometimes echo the connection string in their errors; the page must never show a password."""
    secrets = {settings.DATABASES["default"].get("PASSWORD"), urlsplit(settings.REDIS_URL).password}
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def _status_checks() -> list[Check]:
    database_problem = _database_problem()
    database = Check(
        "database",
        "Database",
        _database_location(),
        "ok" if database_problem is None else "problem",
        "Answers queries." if database_problem is None else _without_secrets(database_problem),
    )
    broker_problem = redis_problem(settings.REDIS_URL)
    broker = Check(
        "broker",
        "Broker (Redis)",
        redis_location(settings.REDIS_URL),
        "ok" if broker_problem is None else "problem",
        "Answers a PING." if broker_problem is None else _without_secrets(broker_problem),
    )
    if broker_problem is not None:
        # Workers are reached through Redis: pinging them now would only wait out connection retries.
        workers = Check("workers", "Workers (Celery)", "", "skipped", "Not asked, because Redis does not answer.")
    else:
        names = workers_answering(celery_app, timeout=WORKER_PING_SECONDS)
        if names:
            answered = f"{len(names)} worker{'s' if len(names) > 1 else ''} answered a ping: {', '.join(names)}."
            workers = Check("workers", "Workers (Celery)", "", "ok", answered)
        else:
            silent = f"No worker answered a ping within {WORKER_PING_SECONDS:g} s."
            workers = Check("workers", "Workers (Celery)", "", "problem", silent)
    return [database, broker, workers]


@require_GET
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    """The same checks as /healthz, and the workers, for a person: what is down and what to do about it."""
    started = time.monotonic()
    checks = _status_checks()
    context: dict[str, object] = {
        "checks": checks,
        "problems": [check for check in checks if check.state == "problem"],
        "milliseconds": round((time.monotonic() - started) * 1000),
    }
    if checks[0].state == "problem":
        # The frame reads the session, the user and their reviews from the database; without it the
        # page is still worth showing, so it is drawn as an anonymous visitor would see it.
        request.user = AnonymousUser()
        context["messages"] = ()
    return render(request, "status.html", context)
