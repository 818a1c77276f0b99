from django.urls import path

from sandbox.monitoring import views

urlpatterns = [
    path("deployments/<int:deployment_id>/traffic/", views.traffic_start, name="traffic_start"),
    path("deployments/<int:deployment_id>/mystery/", views.mystery_start, name="mystery_start"),
    path("deployments/<int:deployment_id>/drift/", views.report_start, name="drift_report_start"),
    path("deployments/<int:deployment_id>/policy/", views.policy_save, name="drift_policy"),
    path("deployments/<int:deployment_id>/retrain/", views.retrain, name="retrain"),
    path("traffic/<int:traffic_id>/", views.traffic_run, name="traffic_run"),
    path("traffic/<int:traffic_id>/guess/", views.mystery_guess, name="mystery_guess"),
    path("drift/<int:report_id>/", views.drift_report, name="drift_report"),
]
