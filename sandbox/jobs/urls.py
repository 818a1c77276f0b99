from django.urls import path

from sandbox.jobs import views

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", views.job_start, name="job_start"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]
