"""The incident drill's pages, included under the `sandbox:` namespace by sandbox.urls."""

from django.urls import path

from sandbox.monitoring import drill_views

urlpatterns = [
    path("drills/", drill_views.drills_page, name="drills"),
    path("drills/<int:drill_id>/", drill_views.drill_page, name="drill"),
    path("drills/<int:drill_id>/report/", drill_views.drill_report, name="drill_report"),
    path("drills/<int:drill_id>/fix/", drill_views.drill_fix, name="drill_fix"),
    path("drills/<int:drill_id>/end/", drill_views.drill_end, name="drill_end"),
]
