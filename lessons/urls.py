from django.urls import path

from lessons import interview_views, quiz_views, views

app_name = "lessons"
urlpatterns = [
    path("map/", views.lifecycle_map, name="map"),
    path("course/complete/", views.course_complete, name="course_complete"),
    path("map/<slug:node_slug>/", views.node_detail, name="node"),
    path("map/<slug:node_slug>/quiz/", quiz_views.node_quiz, name="quiz"),
    path("map/<slug:node_slug>/quiz/start/", quiz_views.node_quiz_start, name="quiz_start"),
    path("map/<slug:node_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson"),
    path("map/<slug:node_slug>/<slug:lesson_slug>/read/", views.lesson_mark_read, name="lesson_read"),
    path("quiz/<int:attempt_id>/", quiz_views.attempt_detail, name="attempt"),
    path("quiz/<int:attempt_id>/end/", interview_views.attempt_end, name="attempt_end"),
    path("quiz/<int:attempt_id>/<int:question_id>/answer/", quiz_views.answer, name="answer"),
    path("quiz/<int:attempt_id>/<int:question_id>/reveal/", quiz_views.reveal, name="reveal"),
    path("interview/", interview_views.interview_home, name="interview"),
    path("interview/start/", interview_views.interview_start, name="interview_start"),
    path("interview/review/", interview_views.review_start, name="review_start"),
    path("accounts/profile/", views.profile, name="profile"),
    path("glossary/", views.glossary, name="glossary"),
    path("faq/", views.faq, name="faq"),
]
