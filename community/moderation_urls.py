"""URLs of the community's moderation pages, included in community/urls.py under the community namespace."""

urlpatterns: list = []
