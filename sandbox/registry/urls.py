from django.urls import path

from sandbox.registry import views

urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/register/<int:run_id>/", views.model_register, name="model_register"),
    path("models/<int:model_id>/", views.model_detail, name="model"),
    path("models/<int:model_id>/versions/<int:number>/", views.version_detail, name="model_version"),
    path("models/<int:model_id>/versions/<int:number>/gate/", views.version_gate, name="model_version_gate"),
    path("models/<int:model_id>/versions/<int:number>/lineage/", views.version_lineage, name="model_version_lineage"),
    path(
        "models/<int:model_id>/versions/<int:number>/<str:action>/", views.version_action, name="model_version_action"
    ),
    path("models/<int:model_id>/<str:action>/", views.model_action, name="model_action"),
]
