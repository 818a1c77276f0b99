"""URLs of the community's prompt pages, included in community/urls.py under the community namespace."""

urlpatterns: list = []
