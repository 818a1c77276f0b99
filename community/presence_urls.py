"""URLs of the community's presence pages, included in community/urls.py under the community namespace."""

urlpatterns: list = []
