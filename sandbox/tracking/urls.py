from django.urls import path

from sandbox.tracking import views

urlpatterns = [
    path("experiments/", views.experiments, name="experiments"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"),
    path("experiments/<int:experiment_id>/runs/", views.run_create, name="run_create"),
    path("experiments/<int:experiment_id>/sweep/", views.sweep_create, name="sweep_create"),
    path("experiments/<int:experiment_id>/compare/", views.compare, name="compare"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/<str:action>/", views.run_action, name="run_action"),
]
