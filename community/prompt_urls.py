"""URLs of the community's prompt pages, included in community/urls.py under the community namespace."""

from django.urls import path

from community import prompt_views

urlpatterns: list = [
    path("prompts/<int:prompt_id>/", prompt_views.prompt_detail, name="prompt"),
    path("prompts/<int:prompt_id>/answer/", prompt_views.prompt_answer, name="prompt_answer"),
    path("prompts/<int:prompt_id>/cohorts/", prompt_views.prompt_cohort_answers, name="prompt_cohort_answers"),
    path(
        "prompts/answers/<int:answer_id>/moderate/", prompt_views.prompt_answer_moderate, name="prompt_answer_moderate"
    ),
]
