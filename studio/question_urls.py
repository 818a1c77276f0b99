"""URLs of the studio's question pages, included in studio/urls.py under the studio namespace."""

from django.urls import path

from studio import question_views

urlpatterns: list = [
    path("questions/", question_views.question_list, name="question_list"),
    path("questions/new/", question_views.question_create, name="question_create"),
    path("questions/check/", question_views.question_check, name="question_check"),
    path("questions/try/", question_views.question_try, name="question_try"),
    path("questions/<int:question_id>/", question_views.question_edit, name="question_edit"),
]
