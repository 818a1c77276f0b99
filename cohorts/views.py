from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cohorts import selectors, services
from cohorts.export import cohort_csv
from cohorts.forms import CohortForm, DeadlinesForm, InviteActionForm, JoinForm
from cohorts.models import Cohort
from lessons.course import course_snapshot
from mlopslab.refusals import Refused, refusal_to_form
from studio.access import author_required

HEATMAP_POLL_SECONDS = 15


def _own_cohort(request: HttpRequest, cohort_id: int) -> Cohort:
    """The instructor's own cohort; another instructor's answers 404, as one that does not exist."""
    return get_object_or_404(Cohort, pk=cohort_id, instructor=request.user)


def _invite_url(request: HttpRequest, cohort: Cohort) -> str:
    return request.build_absolute_uri(reverse("cohorts:join_code", args=[cohort.invite_code]))


@author_required
@require_GET
def cohort_list(request: HttpRequest) -> HttpResponse:
    cohorts = selectors.instructor_cohorts(instructor=request.user)
    return render(request, "cohorts/list.html", {"cohorts": cohorts, "now": timezone.now()})


@author_required
@require_http_methods(["GET", "POST"])
def cohort_create(request: HttpRequest) -> HttpResponse:
    form = CohortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cohort = services.cohort_create(instructor=request.user, **form.cleaned_data)
        messages.success(request, f"Cohort “{cohort.name}” created: share its invite with your learners.")
        return redirect("cohorts:detail", cohort_id=cohort.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "cohorts/form.html", {"form": form, "cohort": None}, status=status)


@author_required
@require_http_methods(["GET", "POST"])
def cohort_edit(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _own_cohort(request, cohort_id)
    form = CohortForm(request.POST) if request.method == "POST" else CohortForm.for_cohort(cohort)
    if request.method == "POST" and form.is_valid():
        services.cohort_update(cohort=cohort, **form.cleaned_data)
        messages.success(request, "Cohort saved.")
        return redirect("cohorts:detail", cohort_id=cohort.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "cohorts/form.html", {"form": form, "cohort": cohort}, status=status)


@author_required
@require_GET
def cohort_detail(request: HttpRequest, cohort_id: int) -> HttpResponse:
    """The cohort page; an htmx request (the heatmap's poll) gets the heatmap alone."""
    cohort = _own_cohort(request, cohort_id)
    if request.htmx:
        context = {"cohort": cohort, "heatmap": selectors.cohort_heatmap(cohort=cohort), "poll": HEATMAP_POLL_SECONDS}
        return render(request, "cohorts/cohort.html#heatmap", context)
    context = {
        "cohort": cohort,
        "report": selectors.cohort_report(cohort=cohort),
        "invite_url": _invite_url(request, cohort),
        "invite_open": cohort.invite_open(),
        "poll": HEATMAP_POLL_SECONDS,
        "most_missed_min": selectors.MOST_MISSED_MIN_ANSWERS,
        "low_discrimination": selectors.LOW_DISCRIMINATION,
    }
    context["heatmap"] = context["report"].heatmap
    return render(request, "cohorts/cohort.html", context)


@author_required
@require_http_methods(["GET", "POST"])
def cohort_deadlines(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _own_cohort(request, cohort_id)
    stages = course_snapshot().nodes
    current = selectors.cohort_deadlines(cohort=cohort)
    form = DeadlinesForm(request.POST or None, stages=stages, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.deadlines_set(cohort=cohort, due=form.due())
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, "Deadlines saved.")
            return redirect("cohorts:detail", cohort_id=cohort.pk)
    else:
        status = 422 if request.method == "POST" else 200
    return render(request, "cohorts/deadlines.html", {"form": form, "cohort": cohort}, status=status)


@author_required
@require_POST
def cohort_invite(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _own_cohort(request, cohort_id)
    form = InviteActionForm(request.POST)
    if not form.is_valid():
        raise Refused("Choose a new code or expire the invite.", status=400)
    if form.cleaned_data["action"] == "regenerate":
        services.cohort_invite_regenerate(cohort=cohort)
        messages.success(request, f"New invite code {cohort.invite_code}: the old one no longer works.")
    else:
        services.cohort_invite_expire(cohort=cohort)
        messages.success(request, "The invite has expired: nobody new can join until you make a new code.")
    return redirect("cohorts:detail", cohort_id=cohort.pk)


@author_required
@require_GET
def cohort_export(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _own_cohort(request, cohort_id)
    response = HttpResponse(cohort_csv(selectors.cohort_report(cohort=cohort)), content_type="text/csv; charset=utf-8")
    filename = f"cohort-{cohort.pk}-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- learners -------------------------------------------------------------------------------


def _joined(request: HttpRequest, cohort_name: str) -> HttpResponse:
    messages.success(request, f"You joined “{cohort_name}”. Your instructor can now follow your progress.")
    return redirect("lessons:map")


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    form = JoinForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                membership = services.membership_join(learner=request.user, code=form.cleaned_data["code"])
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                return _joined(request, membership.cohort.name)
    return render(request, "cohorts/join.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def join_code(request: HttpRequest, code: str) -> HttpResponse:
    """The invite link: the cohort's name and a Join button; the POST joins."""
    cohort = selectors.cohort_by_code(code=code)
    if cohort is None:
        raise Http404("No cohort has that invite code.")
    if request.method == "POST":
        membership = services.membership_join(learner=request.user, code=code)
        return _joined(request, membership.cohort.name)
    member = cohort.memberships.filter(learner=request.user).exists()
    context = {"cohort": cohort, "open": cohort.invite_open(), "member": member}
    return render(request, "cohorts/invite.html", context, status=200 if context["open"] else 410)
