"""The monitoring dashboard of a deployment: its charts, drift alerts, drift reports and timeline.

The page's panel (everything but the controls above it) refreshes itself with htmx every POLL_SECONDS while
something is running for the deployment (a traffic run, a drift report, a retraining job); the answer that finds
nothing running comes with status 286, which stops the polling, and carries no timer of its own. The panel also
refreshes whenever an answer on the page sends the `HX-Trigger: monitor-refresh` header (the controls' forms,
after starting traffic or a report), and so starts polling again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.lazy import lazy_module
from sandbox.monitoring import selectors, services
from sandbox.monitoring.models import MonitoringEvent
from sandbox.serving.models import Deployment

# The charts' module needs numpy's results only; it is imported with the first dashboard drawn.
charts = lazy_module("sandbox.monitoring.charts")

POLL_SECONDS = 3
PANEL = "sandbox/monitoring/dashboard.html#panel"


def report_url(report_id: int) -> str:
    """A drift report's page: `sandbox:drift_report` when the site has it, else the path it is planned at."""
    try:
        return reverse("sandbox:drift_report", args=[report_id])
    except NoReverseMatch:
        return f"/sandbox/drift/{report_id}/"


def _with_links(events: list[MonitoringEvent]) -> list[MonitoringEvent]:
    for event in events:
        event.report_url = report_url(event.report_id) if event.report_id else ""
        event.job_url = reverse("sandbox:job", args=[event.job_id]) if event.job_id else ""
        version = event.version
        event.version_url = (
            reverse("sandbox:model_version", args=[version.registered_model_id, version.number]) if version else ""
        )
    return events


def panel_context(deployment: Deployment) -> dict:
    """What the refreshing panel shows: the charts over the newest requests, open alerts, drift reports,
    the timeline, and what is running now (which decides whether the panel keeps polling)."""
    now = timezone.now()
    reports = selectors.drift_reports(deployment=deployment, limit=selectors.REPORTS_MARKED)
    board = selectors.dashboard(deployment=deployment, now=now, reports=reports)
    shown = reports[: selectors.REPORTS_SHOWN]
    for report in shown:
        report.url = report_url(report.pk)
        report.at = selectors.report_time(report)
    running = selectors.activity(deployment=deployment, reports=reports)
    alerts = selectors.alerts_open(deployment=deployment)
    for alert in alerts:
        alert.report_url = report_url(alert.report_id) if alert.report_id else ""
    return {
        "deployment": deployment,
        "board": board,
        "charts": charts.dashboard_charts(board),
        "reports": shown,
        "drifted_markers": sum(marker.drifted for marker in board.markers),
        "events": _with_links(selectors.events_latest(deployment=deployment)),
        "alerts": alerts,
        "running": running,
        "poll_seconds": POLL_SECONDS,
        "now": now,
    }


def _controls(request: HttpRequest, deployment: Deployment) -> dict:
    """The context of the controls above the panel (traffic, drift report and policy forms), from
    sandbox.monitoring.views when that module provides it."""
    try:
        from sandbox.monitoring.controls import controls_context
    except ImportError:
        return {}
    return controls_context(request, deployment)


def dashboard_context(request: HttpRequest, deployment: Deployment, **extra: object) -> dict:
    """The whole page's context; `extra` (a bound form with its errors, say) is laid over it, so that a view
    handling one of the controls' forms can show the page again with them."""
    return {
        **panel_context(deployment),
        **_controls(request, deployment),
        "metrics_path": reverse("serve_metrics", args=[deployment.name]),
        **extra,
    }


@login_required
@require_GET
def monitor(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    return render(request, "sandbox/monitoring/dashboard.html", dashboard_context(request, deployment))


@login_required
@require_GET
def monitor_panel(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """The panel alone, for htmx's polling: 286 (stop) once nothing is running."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    context = panel_context(deployment)
    response = render(request, PANEL, context)
    if not context["running"].active:
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
@require_POST
def alert_ack(request: HttpRequest, deployment_id: int, event_id: int) -> HttpResponse:
    """Acknowledge a drift alert: it leaves the banner and stays on the timeline, marked with when. Doing it
    twice changes nothing (the first time is kept)."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    alert = selectors.alert_get(deployment=deployment, event_id=event_id)
    services.alert_acknowledge(event=alert)
    if request.htmx:
        # The panel in its place; it carries its own polling trigger while something runs.
        return render(request, PANEL, panel_context(deployment))
    messages.success(request, f"Alert acknowledged: {alert.message}")
    return redirect("sandbox:monitor", deployment.pk)
