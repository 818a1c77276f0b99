from django.urls import path

from sandbox.llmops import views

urlpatterns = [
    path("rag/", views.rag_home, name="rag"),
    path("rag/versions/", views.version_create, name="rag_version_create"),
    path("rag/v<int:number>/", views.version_detail, name="rag_version"),
    path("rag/v<int:number>/evaluate/", views.version_evaluate, name="rag_evaluate"),
    path("rag/v<int:number>/promote/", views.version_promote, name="rag_promote"),
]
