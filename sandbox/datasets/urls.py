from django.urls import path

from sandbox.datasets import views

urlpatterns = [
    path("datasets/", views.datasets, name="datasets"),
    path("datasets/new/<str:source>/", views.dataset_create, name="dataset_create"),
    path("datasets/<int:dataset_id>/", views.dataset_detail, name="dataset"),
    path("datasets/<int:dataset_id>/versions/", views.dataset_version_add, name="dataset_version_add"),
    path("datasets/<int:dataset_id>/v<int:number>/", views.dataset_version_profile, name="dataset_version"),
]
