"""URLs of the community's presence pages, included in community/urls.py under the community namespace."""

from django.urls import path

from community import presence_views as views

urlpatterns: list = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("settings/", views.presence_settings, name="settings"),
]
