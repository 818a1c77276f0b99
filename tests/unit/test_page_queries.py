"""Each page's queries are counted: a page that starts asking one more, or asks more as a learner's history
grows, fails here. The figures are the warm path a running site serves: the course snapshot built once
(lessons.course), then per request the session, the user, the learner's standing, and what the page shows.
"""

from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons import attempts
from lessons.models import Lesson, LessonRead, Node, NodeProgress, Question, ReviewCard
from lessons.services import content_sync
from tests.content_tree import write_content_tree, write_questions

# session + user + the learner's standing (progress, reads, reviews, free roam, authoring: one query) + their
# unread community notifications (the navigation's count)
PER_REQUEST = 4
EXPECTED = {
    "map": PER_REQUEST,
    "glossary": PER_REQUEST,
    "lesson": PER_REQUEST + 3,  # the lesson with its body, the questions about it, its discussion prompts
    "quiz": PER_REQUEST + 4,  # the stage, its progress row, its attempts, how many graded questions it has
    "quiz attempt": PER_REQUEST + 3,  # the attempt, its answers, how many are answered (questions: the snapshot)
}


@pytest.fixture
def learner_with_history(tmp_path: Path, transactional_db: None, django_user_model: type) -> tuple[Client, dict]:
    root = write_content_tree(tmp_path)
    write_questions(root)
    content_sync(root=root)
    learner = django_user_model.objects.create_user(username="ada", password="correct horse battery")
    for node in Node.objects.all():
        NodeProgress.objects.create(user=learner, node=node, completed_at=timezone.now())
    for lesson in Lesson.objects.all():
        LessonRead.objects.create(user=learner, lesson=lesson)
    node = Node.objects.order_by("order").first()
    attempt = attempts.attempt_start_node(user=learner, node=node)
    client = Client()
    client.force_login(learner)
    lesson = Lesson.objects.select_related("node").order_by("node__order", "order").first()
    pages = {
        "map": "/map/",
        "glossary": "/glossary/",
        "lesson": lesson.get_absolute_url(),
        "quiz": f"/map/{node.slug}/quiz/",
        "quiz attempt": f"/quiz/{attempt.pk}/",
    }
    return client, {"pages": pages, "learner": learner, "node": node}


def _count(client: Client, path: str) -> int:
    client.get(path)  # warm: the course snapshot and rendered fragments, as a running site has them
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries.captured_queries)


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_each_page_asks_a_fixed_number_of_queries(learner_with_history: tuple[Client, dict], page: str) -> None:
    client, setup = learner_with_history
    assert _count(client, setup["pages"][page]) == EXPECTED[page]


def test_a_longer_history_asks_no_more_queries(learner_with_history: tuple[Client, dict]) -> None:
    client, setup = learner_with_history
    learner, node, pages = setup["learner"], setup["node"], dict(setup["pages"])
    for _ in range(30):
        attempts.attempt_finish(attempt=attempts.attempt_start_node(user=learner, node=node))
    for question in Question.objects.all():
        ReviewCard.objects.create(user=learner, question=question, state={}, due=timezone.now())
    pages["quiz attempt"] = f"/quiz/{attempts.attempt_start_node(user=learner, node=node).pk}/"
    assert {page: _count(client, path) for page, path in pages.items()} == EXPECTED


def test_a_question_edited_in_this_process_shows_on_the_next_quiz_page(
    learner_with_history: tuple[Client, dict],
) -> None:
    client, setup = learner_with_history
    path = setup["pages"]["quiz attempt"]
    client.get(path)  # the questions are now kept by the snapshot
    question = Question.objects.filter(node=setup["node"]).order_by("order").first()
    question.prompt_html = "<p>An edited prompt about model registries.</p>"
    question.save()
    assert "An edited prompt about model registries." in client.get(path).content.decode()
