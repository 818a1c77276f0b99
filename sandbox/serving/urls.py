from django.urls import path

from sandbox.serving import views

urlpatterns = [
    path("deployments/", views.deployments, name="deployments"),
    path("deployments/<int:deployment_id>/", views.deployment_detail, name="deployment"),
    path("deployments/<int:deployment_id>/release/", views.deployment_release, name="deployment_release"),
    path("deployments/<int:deployment_id>/rollback/", views.deployment_rollback, name="deployment_rollback"),
    path("deployments/<int:deployment_id>/switch/", views.deployment_switch, name="deployment_switch"),
    path("deployments/<int:deployment_id>/promote/", views.deployment_promote, name="deployment_promote"),
    path("deployments/<int:deployment_id>/delete/", views.deployment_delete, name="deployment_delete"),
    path("deployments/<int:deployment_id>/try/", views.deployment_try, name="deployment_try"),
    path("deployments/<int:deployment_id>/token/", views.deployment_token, name="deployment_token"),
    path(
        "deployments/<int:deployment_id>/releases/<int:number>/bundle.zip",
        views.release_bundle,
        name="release_bundle",
    ),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
