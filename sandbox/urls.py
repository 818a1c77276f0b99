from django.urls import path

from sandbox import tracking_views, views

app_name = "sandbox"
urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", views.job_start, name="job_start"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("datasets/", tracking_views.datasets, name="datasets"),
    path("datasets/new/<str:source>/", tracking_views.dataset_create, name="dataset_create"),
    path("datasets/<int:dataset_id>/", tracking_views.dataset_detail, name="dataset"),
    path("datasets/<int:dataset_id>/versions/", tracking_views.dataset_version_add, name="dataset_version_add"),
    path("datasets/<int:dataset_id>/v<int:number>/", tracking_views.dataset_version_profile, name="dataset_version"),
    path("experiments/", tracking_views.experiments, name="experiments"),
    path("experiments/<int:experiment_id>/", tracking_views.experiment_detail, name="experiment"),
    path("experiments/<int:experiment_id>/runs/", tracking_views.run_create, name="run_create"),
    path("experiments/<int:experiment_id>/sweep/", tracking_views.sweep_create, name="sweep_create"),
    path("experiments/<int:experiment_id>/compare/", tracking_views.compare, name="compare"),
    path("runs/<int:run_id>/", tracking_views.run_detail, name="run"),
    path("runs/<int:run_id>/<str:action>/", tracking_views.run_action, name="run_action"),
]
