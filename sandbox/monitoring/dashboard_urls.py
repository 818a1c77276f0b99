"""The monitoring dashboard's pages, included under the `sandbox:` namespace by sandbox.urls."""

from django.urls import path

from sandbox.monitoring import dashboard_views

urlpatterns = [
    path("deployments/<int:deployment_id>/monitor/", dashboard_views.monitor, name="monitor"),
    path("deployments/<int:deployment_id>/monitor/panel/", dashboard_views.monitor_panel, name="monitor_panel"),
    path("deployments/<int:deployment_id>/alerts/<int:event_id>/ack/", dashboard_views.alert_ack, name="alert_ack"),
]
