"""Monitoring's pages beside the dashboard: send traffic, a traffic run and its mystery, drift reports, the drift
policy and a manual retraining. Every form answers bad input with its errors in place (422) and changes nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.monitoring import forms, services
from sandbox.monitoring.controls import _algorithms, _inputs, controls_context
from sandbox.monitoring.models import DriftReport, TrafficRun
from sandbox.serving.models import Deployment
from sandbox.serving.selectors import deployment_get_owned

report_charts = lazy_module("sandbox.monitoring.report_charts")


def _owned(request: HttpRequest, deployment_id: int) -> Deployment:
    return deployment_get_owned(owner=request.user, deployment_id=deployment_id)


def _back_to_dashboard(request: HttpRequest, deployment: Deployment, status: int, **bound: object) -> HttpResponse:
    """The dashboard again with the bound form and its errors, answered with `status`."""
    from sandbox.monitoring.dashboard_views import dashboard_context

    context = {**dashboard_context(request, deployment), **controls_context(request, deployment, **bound)}
    return render(request, "sandbox/monitoring/dashboard.html", context, status=status)


@login_required
@require_POST
def traffic_start(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _owned(request, deployment_id)
    inputs, classes = _inputs(deployment)
    form = forms.TrafficForm(request.POST, inputs=inputs, classes=classes)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = services.traffic_start(
                owner=request.user, deployment=deployment, requests=data["requests"], rate=data["rate"],
                scenario=data["scenario"], onset=data["onset"], drift_from=data["drift_from"], ramp=data["ramp"],
                settings=data["settings"], label_delay=data["label_delay"], seed=data.get("seed"),
            )  # fmt: skip
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, f"Sending {run.requests:,} requests to /serve/{deployment.name}/.")
            return redirect("sandbox:traffic_run", run.pk)
    return _back_to_dashboard(request, deployment, status, traffic_form=form)


@login_required
@require_POST
def mystery_start(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _owned(request, deployment_id)
    run = services.mystery_start(owner=request.user, deployment=deployment)
    messages.success(request, "A mystery is on its way: one feature will drift. Find it with a drift report.")
    return redirect("sandbox:traffic_run", run.pk)


def _run_owned(request: HttpRequest, traffic_id: int) -> TrafficRun:
    run = TrafficRun.objects.select_related("deployment", "job").filter(pk=traffic_id, owner=request.user).first()
    if run is None:
        raise Http404("There is no such traffic run of yours.")
    return run


def _run_context(run: TrafficRun, **bound: object) -> dict:
    inputs, _ = _inputs(run.deployment)
    context = {"run": run, "deployment": run.deployment, "job": run.job, "drill_id": run.settings.get("drill")}
    if services.is_mystery(run):
        context["guess_form"] = bound.get("guess_form") or forms.GuessForm(inputs=inputs)
        if run.guessed_at is not None:
            context["solved"] = run.guess in (run.settings.get("shift") or {})
            context["answer"] = next(iter(run.settings.get("shift") or {}), "")
    return context


@login_required
@require_GET
def traffic_run(request: HttpRequest, traffic_id: int) -> HttpResponse:
    run = _run_owned(request, traffic_id)
    context = _run_context(run)
    if request.htmx and request.GET.get("fragment") == "progress":
        response = render(request, "sandbox/monitoring/traffic_run.html#traffic-progress", context)
        if run.job is None or run.job.is_finished:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "sandbox/monitoring/traffic_run.html", context)


@login_required
@require_POST
def mystery_guess(request: HttpRequest, traffic_id: int) -> HttpResponse:
    run = _run_owned(request, traffic_id)
    inputs, _ = _inputs(run.deployment)
    form = forms.GuessForm(request.POST, inputs=inputs)
    status = 422
    if form.is_valid():
        try:
            solved = services.mystery_guess(run=run, feature=form.cleaned_data["feature"])
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            if solved:
                messages.success(request, f"Right: {form.cleaned_data['feature']} was the feature that drifted.")
            else:
                messages.warning(request, "Not that one. Look again at which column's test flagged drift.")
            return redirect("sandbox:traffic_run", run.pk)
    return render(request, "sandbox/monitoring/traffic_run.html", _run_context(run, guess_form=form), status=status)


@login_required
@require_POST
def report_start(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _owned(request, deployment_id)
    inputs, _ = _inputs(deployment)
    form = forms.ReportForm(request.POST, request.FILES, inputs=inputs)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        upload = data.get("upload")
        try:
            report = services.report_start(
                owner=request.user, deployment=deployment, window=data.get("window") or 500, tests=data["tests"],
                drift_share=data["drift_share"], upload=upload.read() if upload else None,
            )  # fmt: skip
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            return redirect("sandbox:drift_report", report.pk)
    return _back_to_dashboard(request, deployment, status, report_form=form)


def _report_owned(request: HttpRequest, report_id: int) -> DriftReport:
    report = (
        DriftReport.objects.select_related("deployment", "version__registered_model", "reference__dataset", "job")
        .filter(pk=report_id, owner=request.user)
        .first()
    )
    if report is None:
        raise Http404("There is no such drift report of yours.")
    return report


@login_required
@require_GET
def drift_report(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report_owned(request, report_id)
    context = {"report": report, "deployment": report.deployment, "job": report.job}
    if report.status == DriftReport.Status.DONE:
        context["columns"] = report_charts.columns_shown(report)
        context["prediction_sentence"] = report_charts.side_sentence(report.prediction_drift, "predictions")
        context["label_sentence"] = report_charts.side_sentence(report.label_drift, "labels")
    if request.htmx and request.GET.get("fragment") == "progress":
        response = render(request, "sandbox/monitoring/drift_report.html#report-progress", context)
        if report.status != DriftReport.Status.PENDING:
            # The page reloads itself to show the finished report.
            response["HX-Refresh"] = "true"
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "sandbox/monitoring/drift_report.html", context)


@login_required
@require_POST
def policy_save(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _owned(request, deployment_id)
    form = forms.PolicyForm(request.POST, algorithms=_algorithms(deployment))
    status = 422
    if form.is_valid():
        try:
            services.policy_save(deployment=deployment, **form.cleaned_data)
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, "Drift policy saved.")
            return redirect("sandbox:monitor", deployment.pk)
    return _back_to_dashboard(request, deployment, status, policy_form=form)


@login_required
@require_POST
def retrain(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _owned(request, deployment_id)
    form = forms.RetrainForm(request.POST, algorithms=_algorithms(deployment))
    status = 422
    if form.is_valid():
        report = DriftReport.objects.filter(deployment=deployment, status=DriftReport.Status.DONE).first()
        try:
            services.retrain_start(deployment=deployment, report=report, **form.cleaned_data)
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, "Retraining queued: it trains, registers, gates and deploys a canary.")
            return redirect("sandbox:monitor", deployment.pk)
    return _back_to_dashboard(request, deployment, status, retrain_form=form)
