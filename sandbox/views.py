from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING, reswap, retarget

from sandbox import selectors, services
from sandbox.charts import learning_curve_html
from sandbox.forms import FirstModelForm
from sandbox.models import Job


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {"form": FirstModelForm(), "jobs": selectors.jobs_recent(owner=request.user)}
    return render(request, "sandbox/home.html", context)


@login_required
@require_POST
def job_start(request: HttpRequest) -> HttpResponse:
    form = FirstModelForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            job = services.job_create(owner=request.user, kind=Job.Kind.FIRST_MODEL, params=form.cleaned_data)
        except services.JobRefused as exc:
            form.add_error(None, str(exc))
            status = 503 if str(exc) == services.QUEUE_UNREACHABLE else 429
        else:
            if job.status == Job.Status.FAILED:
                form.add_error(None, job.error)
                status = 503
            elif request.htmx:
                return render(request, "sandbox/partials/job_progress.html", {"job": job})
            else:
                messages.success(request, "Your job is queued.")
                return redirect("sandbox:home")
    if request.htmx:
        response = render(request, "sandbox/home.html#start-form", {"form": form}, status=status)
        return reswap(retarget(response, "#start-form"), "outerHTML")
    context = {"form": form, "jobs": selectors.jobs_recent(owner=request.user)}
    return render(request, "sandbox/home.html", context, status=status)


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get_owned(owner=request.user, job_id=job_id)
    detailed = request.GET.get("detail") == "1" or not request.htmx
    context = {"job": job, "detailed": detailed}
    if detailed and job.status == Job.Status.SUCCEEDED and job.kind == Job.Kind.FIRST_MODEL:
        context["chart"] = learning_curve_html(job.result["epochs"])
    if not request.htmx:
        return render(request, "sandbox/job_detail.html", context)
    response = render(request, "sandbox/partials/job_progress.html", context)
    if job.is_finished:
        # 286 tells htmx to stop polling; the swapped-in fragment has no trigger either.
        response.status_code = HTMX_STOP_POLLING
    return response
