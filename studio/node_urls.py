"""URLs of the studio's stage, glossary and FAQ pages, included in studio/urls.py under the studio namespace."""

from django.urls import path

from studio import node_views

urlpatterns: list = [
    path("stages/", node_views.node_list, name="node_list"),
    path("stages/new/", node_views.node_create, name="node_create"),
    path("stages/check/", node_views.node_check, name="node_check"),
    path("stages/<slug:node_slug>/", node_views.node_edit, name="node_edit"),
    path("glossary/", node_views.term_list, name="term_list"),
    path("glossary/new/", node_views.term_create, name="term_create"),
    path("glossary/<slug:term_slug>/", node_views.term_edit, name="term_edit"),
    path("faq/", node_views.faq_list, name="faq_list"),
    path("faq/new/", node_views.faq_create, name="faq_create"),
    path("faq/<int:faq_order>/", node_views.faq_edit, name="faq_edit"),
]
