"""URLs of the community's qa pages, included in community/urls.py under the community namespace."""

from django.urls import path

from community import qa_views

urlpatterns: list = [
    path("", qa_views.question_list, name="question_list"),
    path("ask/", qa_views.question_ask, name="question_ask"),
    path("<int:post_id>/", qa_views.question_detail, name="question"),
    path("<int:post_id>/updates/", qa_views.question_updates, name="question_updates"),
    path("<int:post_id>/answer/", qa_views.answer_create, name="answer_create"),
    path("<int:post_id>/comment/", qa_views.comment_create, name="comment_create"),
    path("<int:post_id>/vote/", qa_views.vote, name="vote"),
    path("<int:post_id>/accept/", qa_views.accept, name="accept"),
]
