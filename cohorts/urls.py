from django.urls import path

from cohorts import views

app_name = "cohorts"
urlpatterns = [
    path("studio/cohorts/", views.cohort_list, name="list"),
    path("studio/cohorts/new/", views.cohort_create, name="create"),
    path("studio/cohorts/<int:cohort_id>/", views.cohort_detail, name="detail"),
    path("studio/cohorts/<int:cohort_id>/edit/", views.cohort_edit, name="edit"),
    path("studio/cohorts/<int:cohort_id>/deadlines/", views.cohort_deadlines, name="deadlines"),
    path("studio/cohorts/<int:cohort_id>/invite/", views.cohort_invite, name="invite"),
    path("studio/cohorts/<int:cohort_id>/export.csv", views.cohort_export, name="export"),
    path("cohorts/join/", views.join, name="join"),
    path("cohorts/join/<str:code>/", views.join_code, name="join_code"),
]
