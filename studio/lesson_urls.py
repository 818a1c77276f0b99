"""URLs of the studio's lesson pages, included in studio/urls.py under the studio namespace."""

urlpatterns: list = []
