"""The incident drill's pages: the history with its start form, and one drill's page where the learner follows its
traffic, reports, fixes and reads the score. Thin views over sandbox.monitoring.drills.

Until a drill is scored its page is the same whatever its fault: the forms list every cause, column and fix, the
progress says only how much traffic was sent, and nothing in the page's source, attributes or fragments differs.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.refusals import Refused, refusal_to_form
from sandbox.monitoring import drills
from sandbox.monitoring.drill_forms import DrillFixForm, DrillReportForm, DrillStartForm
from sandbox.monitoring.models import Drill
from sandbox.serving.services import MAX_DEPLOYMENTS

POLL_MS = 1500
PROGRESS = "sandbox/monitoring/drill.html#drill-progress"


def _history(request: HttpRequest, form: DrillStartForm) -> dict:
    history = drills.drills_owned(owner=request.user)
    for drill in history:
        drill.revealed = drills.revealed(drill)
    return {
        "form": form,
        "has_versions": form.fields["version"].queryset.exists(),
        "drills": history,
        "running": drills.drill_running(owner=request.user),
        "max_deployments": MAX_DEPLOYMENTS,
        "pass_score": Drill.PASS_SCORE,
    }


@login_required
@require_http_methods(["GET", "POST"])
def drills_page(request: HttpRequest) -> HttpResponse:
    """Past drills with their scores, and the form that starts one on a version."""
    form = DrillStartForm(request.POST or None, versions=drills.versions_for_drills(owner=request.user))
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                drill = drills.drill_start(owner=request.user, version=form.cleaned_data["version"])
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                messages.success(request, f"Drill #{drill.pk} is starting: its endpoint deploys first.")
                return redirect("sandbox:drill", drill.pk)
    return render(request, "sandbox/monitoring/drills.html", _history(request, form), status=status)


def _polling(drill: Drill) -> bool:
    """Whether the page follows a job of the drill's: its traffic, or the check of the fix."""
    return drill.job is not None and not drill.job.is_finished and drill.status in drills.ACTIVE


def _context(drill: Drill, **bound: object) -> dict:
    inputs = drills.input_names(drill.version)
    shown = drills.revealed(drill)
    reported_column = drill.reported_column or ""
    context = {
        "drill": drill,
        "deployment": drill.deployment,
        "status_line": drills.status_line(drill),
        "polling": _polling(drill),
        "poll_ms": POLL_MS,
        "revealed": shown,
        "report_open": drill.status == Drill.Status.RUNNING and drill.reported_at is None,
        "fix_open": drill.status == Drill.Status.RUNNING and drill.reported_at is not None,
        "end_open": drill.status in (Drill.Status.STARTING, Drill.Status.RUNNING),
        "report_form": bound.get("report_form") or DrillReportForm(inputs=inputs),
        "fix_form": bound.get("fix_form") or DrillFixForm(inputs=inputs, initial={"column": reported_column}),
        "end_error": bound.get("end_error", ""),
        "pass_score": Drill.PASS_SCORE,
    }
    if drill.reported_cause:
        context["reported_cause"] = Drill.Fault(drill.reported_cause).label
    if drill.status in drills.OVER:
        context["detail"] = drill.score_detail or {}
        context["verification"] = {
            "why": (drill.verification or {}).get("restored_why", ""),
            "figures": (drill.verification or {}).get("figures", {}),
        }
    if shown:
        context["fault_label"] = Drill.Fault(drill.fault).label
        context["explanation"] = drills.explanation(drill)
        context["figure_rows"] = _figure_rows((drill.verification or {}).get("figures") or {})
    return context


FIGURE_ROWS = (("baseline", "Baseline"), ("fault", "Under the fault"), ("verify", "After your fix"))


def _figure_rows(figures: dict) -> list[dict]:
    """The scored drill's traffic runs as rows of figures in words."""
    rows = []
    for part, label in FIGURE_ROWS:
        row = figures.get(part)
        if not row:
            continue
        level = row.get("level")
        if level is None:
            shown = ""
        elif row.get("metric") == "accuracy":
            shown = f"accuracy {level:.1%}"
        else:
            shown = f"{row.get('metric')} {level:.3f}"
        p95 = row.get("p95_ms")
        rows.append({
            "part": part, "label": label, "requests": row.get("requests"), "answered": row.get("answered"),
            "refused": row.get("refused"), "labelled": row.get("labelled", 0), "level": shown,
            "p95": f"{p95:.1f} ms" if p95 is not None else "",
        })  # fmt: skip
    return rows


@login_required
@require_GET
def drill_page(request: HttpRequest, drill_id: int) -> HttpResponse:
    """The drill's page; for htmx, its progress, polled while a job of the drill's runs."""
    drill = drills.drill_get_owned(owner=request.user, drill_id=drill_id)
    if request.htmx and request.GET.get("fragment") == "progress":
        context = _context(drill)
        response = render(request, PROGRESS, context)
        if not context["polling"]:
            # The job has ended: 286 stops the poll, and the page reloads for what comes next (its forms, or the
            # score).
            response.status_code = HTMX_STOP_POLLING
            response["HX-Refresh"] = "true"
        elif request.GET.get("seen", drill.status) != drill.status:
            # The drill moved on while its job runs (its endpoint is live and the traffic flows): the page reloads
            # to open the report.
            response["HX-Refresh"] = "true"
        return response
    return render(request, "sandbox/monitoring/drill.html", _context(drill))


def _again(request: HttpRequest, drill: Drill, status: int, **bound: object) -> HttpResponse:
    drill.refresh_from_db()
    return render(request, "sandbox/monitoring/drill.html", _context(drill, **bound), status=status)


@login_required
@require_POST
def drill_report(request: HttpRequest, drill_id: int) -> HttpResponse:
    drill = drills.drill_get_owned(owner=request.user, drill_id=drill_id)
    form = DrillReportForm(request.POST, inputs=drills.input_names(drill.version))
    status = 422
    if form.is_valid():
        try:
            drills.drill_report(drill=drill, cause=form.cleaned_data["cause"], column=form.cleaned_data["column"])
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, "Reported. Now apply the fix you think restores the service.")
            return redirect("sandbox:drill", drill.pk)
    return _again(request, drill, status, report_form=form)


@login_required
@require_POST
def drill_fix(request: HttpRequest, drill_id: int) -> HttpResponse:
    drill = drills.drill_get_owned(owner=request.user, drill_id=drill_id)
    form = DrillFixForm(request.POST, inputs=drills.input_names(drill.version))
    status = 422
    if form.is_valid():
        try:
            drills.drill_fix(drill=drill, fix=form.cleaned_data["fix"], column=form.cleaned_data["column"])
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, "Fix applied. The drill is checking it with more traffic.")
            return redirect("sandbox:drill", drill.pk)
    return _again(request, drill, status, fix_form=form)


@login_required
@require_POST
def drill_end(request: HttpRequest, drill_id: int) -> HttpResponse:
    drill = drills.drill_get_owned(owner=request.user, drill_id=drill_id)
    try:
        drills.drill_end(drill=drill)
    except Refused as refusal:
        return _again(request, drill, refusal.status, end_error=refusal.message)
    messages.success(request, f"Drill #{drill.pk} ended.")
    return redirect("sandbox:drill", drill.pk)
