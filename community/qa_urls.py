"""URLs of the community's qa pages, included in community/urls.py under the community namespace."""

urlpatterns: list = []
