from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING, reswap, retarget

from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.jobs import selectors, services
from sandbox.jobs.forms import FirstModelForm
from sandbox.jobs.models import Job
from sandbox.jobs.runners import FIRST_MODEL

charts = lazy_module("sandbox.charts")


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {"form": FirstModelForm(), "jobs": selectors.jobs_recent(owner=request.user)}
    return render(request, "sandbox/jobs/home.html", context)


@login_required
@require_POST
def job_start(request: HttpRequest) -> HttpResponse:
    form = FirstModelForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            job = services.job_create_or_refuse(owner=request.user, kind=FIRST_MODEL, params=form.cleaned_data)
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            if request.htmx:
                return render(request, "sandbox/jobs/partials/job_progress.html", {"job": job})
            messages.success(request, "Your job is queued.")
            return redirect("sandbox:home")
    if request.htmx:
        response = render(request, "sandbox/jobs/home.html#start-form", {"form": form}, status=status)
        return reswap(retarget(response, "#start-form"), "outerHTML")
    context = {"form": form, "jobs": selectors.jobs_recent(owner=request.user)}
    return render(request, "sandbox/jobs/home.html", context, status=status)


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get_owned(owner=request.user, job_id=job_id)
    detailed = request.GET.get("detail") == "1" or not request.htmx
    context = {"job": job, "detailed": detailed}
    if detailed and job.status == Job.Status.SUCCEEDED and job.kind == FIRST_MODEL:
        context["chart"] = charts.learning_curve_html(job.result["epochs"])
    if not request.htmx:
        return render(request, "sandbox/jobs/job_detail.html", context)
    response = render(request, "sandbox/jobs/partials/job_progress.html", context)
    if job.is_finished:
        # 286 tells htmx to stop polling; the swapped-in fragment has no trigger either.
        response.status_code = HTMX_STOP_POLLING
    return response
