from django.urls import path

from studio import lesson_urls, node_urls, question_urls, views

app_name = "studio"
urlpatterns: list = [
    path("", views.home, name="home"),
    path("history/<str:kind>/<path:key>/restore/<int:number>/", views.restore, name="restore"),
    path("history/<str:kind>/<path:key>/", views.history, name="history"),
    path("conflicts/", views.conflicts, name="conflicts"),
    path("conflicts/<int:conflict_id>/resolve/", views.conflict_resolve, name="conflict_resolve"),
    path("export/", views.export_page, name="export"),
    *lesson_urls.urlpatterns,
    *question_urls.urlpatterns,
    *node_urls.urlpatterns,
]
