from django.urls import path

from lessons import views

app_name = "lessons"
urlpatterns = [
    path("map/", views.lifecycle_map, name="map"),
    path("map/<slug:node_slug>/", views.node_detail, name="node"),
    path("map/<slug:node_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson"),
    path("map/<slug:node_slug>/<slug:lesson_slug>/read/", views.lesson_mark_read, name="lesson_read"),
    path("glossary/", views.glossary, name="glossary"),
    path("faq/", views.faq, name="faq"),
]
