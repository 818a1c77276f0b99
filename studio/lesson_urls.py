"""URLs of the studio's lesson pages, included in studio/urls.py under the studio namespace."""

from django.urls import path

from studio import lesson_views

urlpatterns: list = [
    path("lessons/", lesson_views.lesson_list, name="lesson_list"),
    path("lessons/new/", lesson_views.lesson_create, name="lesson_create"),
    path("lessons/preview/", lesson_views.lesson_preview_fragment, name="lesson_preview"),
    path("lessons/<slug:node_slug>/<slug:lesson_slug>/", lesson_views.lesson_edit, name="lesson_edit"),
    path("lessons/<slug:node_slug>/<slug:lesson_slug>/publish/", lesson_views.lesson_publish, name="lesson_publish"),
    path(
        "lessons/<slug:node_slug>/<slug:lesson_slug>/unpublish/",
        lesson_views.lesson_unpublish,
        name="lesson_unpublish",
    ),
    path(
        "lessons/<slug:node_slug>/<slug:lesson_slug>/as-learner/",
        lesson_views.lesson_learner_view,
        name="lesson_learner_view",
    ),
]
