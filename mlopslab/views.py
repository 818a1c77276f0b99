import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mlopslab import health, throttle
from mlopslab.broker import redis_location, workers_answering
from mlopslab.celery import app as celery_app
from mlopslab.forms import LoginForm, SignupForm
from mlopslab.refusals import refusal_to_form

logger = logging.getLogger(__name__)

WORKER_PING_SECONDS = 1.0


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("lessons:map")
    return render(request, "home.html")


def _with_retry_after(response: HttpResponse, form: Form | None) -> HttpResponse:
    """A form refused by the throttle is answered 429, with the wait in Retry-After."""
    retry_after = getattr(form, "retry_after", None)
    if retry_after:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    if request.method != "POST":
        return render(request, "registration/signup.html", {"form": SignupForm()})
    form = SignupForm(request.POST)
    try:
        throttle.signup_check(request)
    except throttle.Throttled as refusal:
        status = refusal_to_form(form, refusal)
        response = render(request, "registration/signup.html", {"form": form}, status=status)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    if form.is_valid():
        user = form.save()
        throttle.signup_done(request)
        login(request, user)
        messages.success(request, f"Welcome to MLOps Lab, {user.username}.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        return _with_retry_after(super().form_invalid(form), form)


def admin_login(request: HttpRequest, **kwargs: object) -> HttpResponse:
    """The admin's own login page (its form is throttled: see urls.py), answering 429 when refused for that."""
    response = admin.site.login(request, **kwargs)
    context = getattr(response, "context_data", None) or {}
    return _with_retry_after(response, context.get("form"))


def _health_checks() -> dict[str, health.Outcome]:
    return health.run_checks(
        {
            "database": health.database_outcome,
            "redis": partial(health.redis_outcome, settings.REDIS_URL),
            "workers": partial(health.workers_outcome, settings.REDIS_URL),
        }
    )


def _is_staff(request: HttpRequest) -> bool:
    """Who the visitor is comes from the database: ask only once it is known to answer."""
    try:
        return request.user.is_active and request.user.is_staff
    except DatabaseError:
        return False


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Each check's state ("ok", "error", "busy", "timed out") for anyone; the detail in the log, and for staff."""
    started = time.monotonic()
    outcomes = _health_checks()
    workers = outcomes.pop("workers")
    body: dict[str, object] = {name: outcome.state for name, outcome in outcomes.items()}
    details = {name: _without_secrets(outcome.detail) for name, outcome in outcomes.items() if not outcome.ok}
    for name, detail in details.items():
        logger.warning("/healthz: %s is %s: %s", name, outcomes[name].state, detail)
    if details and outcomes["database"].ok and _is_staff(request):
        body["detail"] = details
    # A missing worker is reported, not counted against the site's health: pages still answer. Its
    # sentence is the heartbeat's own ("no worker heard from for 40 s"), with no address in it.
    body["workers"] = f"error: {workers.detail}" if workers.state == health.ERROR else workers.state
    body["seconds"] = round(time.monotonic() - started, 3)
    return JsonResponse(body, status=503 if details else 200)


@dataclass(frozen=True)
class Check:
    """One part of the system as the status page shows it; `state` is "ok", "problem" or "skipped".

    `summary` is for anyone. `location` (host and port) and `detail` (the driver's own words, worker
    names) are for staff only; `cause` is the health check's state ("busy", "timed out", …).
    """

    key: str
    title: str
    state: str
    summary: str
    location: str = ""
    detail: str = ""
    cause: str = ""


SUMMARIES = {
    health.ERROR: "Not working; the server log has the reason.",
    health.BUSY: "Another process holds the write lock, so forms are refused until it lets go.",
    health.TIMED_OUT: f"Did not answer within {health.DEADLINE_SECONDS:g} s.",
}


def _check(key: str, title: str, outcome: health.Outcome, *, ok: str, location: str) -> Check:
    return Check(
        key,
        title,
        "ok" if outcome.ok else "problem",
        ok if outcome.ok else SUMMARIES[outcome.state],
        location,
        _without_secrets(outcome.detail),
        outcome.state,
    )


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
    outcomes = health.run_checks(
        {"database": health.database_outcome, "redis": partial(health.redis_outcome, settings.REDIS_URL)}
    )
    database = _check(
        "database", "Database", outcomes["database"], ok="Answers queries.", location=_database_location()
    )
    broker_location = redis_location(settings.REDIS_URL)
    broker = _check("broker", "Broker (Redis)", outcomes["redis"], ok="Answers a PING.", location=broker_location)
    if broker.state != "ok":
        # Workers are reached through Redis: pinging them now would only wait out connection retries.
        workers = Check("workers", "Workers (Celery)", "skipped", "Not asked, because Redis does not answer.")
    else:
        names = workers_answering(celery_app, timeout=WORKER_PING_SECONDS)
        if names:
            answered = f"{len(names)} worker{'s' if len(names) > 1 else ''} answered a ping."
            workers = Check("workers", "Workers (Celery)", "ok", answered, detail=", ".join(names))
        else:
            silent = f"No worker answered a ping within {WORKER_PING_SECONDS:g} s."
            workers = Check("workers", "Workers (Celery)", "problem", silent)
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
    else:
        context["show_details"] = _is_staff(request)
    return render(request, "status.html", context)
