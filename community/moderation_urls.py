"""URLs of the community's moderation pages, included in community/urls.py under the community namespace."""

from django.urls import path

from community import moderation_views as views

urlpatterns: list = [
    path("moderation/", views.queue, name="moderation"),
    path("<int:post_id>/report/", views.report, name="report"),
    path("<int:post_id>/hide/", views.hide, name="hide"),
    path("<int:post_id>/restore/", views.restore, name="restore"),
    path("<int:post_id>/dismiss/", views.dismiss, name="dismiss"),
    path("<int:post_id>/lock/", views.lock, name="lock"),
    path("<int:post_id>/unlock/", views.unlock, name="unlock"),
    path("<int:post_id>/history/", views.history, name="post_history"),
    path("<int:post_id>/edit/", views.post_edit, name="post_edit"),
    path("<int:post_id>/delete/", views.post_delete, name="post_delete"),
]
