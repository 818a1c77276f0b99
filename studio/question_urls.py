"""URLs of the studio's question pages, included in studio/urls.py under the studio namespace."""

urlpatterns: list = []
