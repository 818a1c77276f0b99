"""One kind of refusal for every use case, and the one place that turns it into a response.

A service that declines to act (a cap reached, the queue unreachable, a bad dataset, a locked
node, a question answered twice) raises `Refused` having changed nothing. Views either let it
propagate, and `RefusalMiddleware` answers with a JSON body, an htmx fragment or the page the
learner came from, or catch it where a form should show it inline (`refusal_to_form`).
"""

from collections.abc import Callable

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


class Refused(Exception):
    """Nothing was changed; `message` says why, for a person, and `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def refusal_to_form(form: forms.BaseForm, refusal: Refused) -> int:
    """Show the refusal as the form's error and return the status the page is answered with."""
    form.add_error(None, refusal.message)
    return refusal.status


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def refusal_response(request: HttpRequest, refusal: Refused) -> HttpResponse:
    """The refusal as machines, htmx and people each read it."""
    if wants_json(request):
        return JsonResponse({"error": refusal.message, "status": refusal.status}, status=refusal.status)
    if getattr(request, "htmx", False):
        return render(request, "partials/refusal.html", {"message": refusal.message}, status=refusal.status)
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return render(
        request, "refused.html", {"message": refusal.message, "back": back if safe else ""}, status=refusal.status
    )


class RefusalMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Refused):
            return refusal_response(request, exception)
        return None
