"""URLs of the studio's node pages, included in studio/urls.py under the studio namespace."""

urlpatterns: list = []
