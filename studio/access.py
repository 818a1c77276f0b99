"""Who may use the studio and teach cohorts: holders of the authoring permission, checked on every view."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from lessons.selectors import is_author
from mlopslab.refusals import Refused

NOT_AN_INSTRUCTOR = "Only instructors can open the studio and cohort pages."


def author_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first, then refuse with 403 anyone without the authoring permission: pages and htmx fragments alike."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not is_author(request.user):
            raise Refused(NOT_AN_INSTRUCTOR, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapped)
