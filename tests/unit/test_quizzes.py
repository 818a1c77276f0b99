import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lessons import attempts, grading
from lessons.challenges import ChallengeStatus, challenge_status, registered
from lessons.content_files import ContentError, read_content
from lessons.models import Answer, LearnerProfile, Node, NodeProgress, Question, QuizAttempt, ReviewCard
from tests.content_tree import QUESTIONS, write_content_tree, write_questions

HTMX = {"HTTP_HX_REQUEST": "true"}


def _start(client: Client, slug: str = "first") -> QuizAttempt:
    response = client.post(reverse("lessons:quiz_start", args=[slug]))
    assert response.status_code == 302, response.content
    return QuizAttempt.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])


def _right_answer(attempt: QuizAttempt, question: Question) -> dict:
    """The form a learner who knows the answer would submit, built from what the page shows."""
    if question.kind in Question.CHOICE_KINDS:
        shown = grading.display_choices(question, list(question.choices.all()), seed=attempt.seed)
        return {"choice": [str(i) for i, c in enumerate(shown) if c.correct]}
    if question.kind == Question.Kind.TRUE_FALSE:
        return {"value": "true" if question.answer["value"] else "false"}
    if question.kind == Question.Kind.NUMERIC:
        return {"value": str(question.answer["value"])}
    if question.kind == Question.Kind.ORDERING:
        items = grading.display_items(question, seed=attempt.seed)
        return {f"position-{i}": str(question.answer["order"].index(item) + 1) for i, item in enumerate(items)}
    return {"rating": "3"}


def _wrong_answer(attempt: QuizAttempt, question: Question) -> dict:
    if question.kind in Question.CHOICE_KINDS:
        shown = grading.display_choices(question, list(question.choices.all()), seed=attempt.seed)
        return {"choice": [str(next(i for i, c in enumerate(shown) if not c.correct))]}
    if question.kind == Question.Kind.TRUE_FALSE:
        return {"value": "false" if question.answer["value"] else "true"}
    if question.kind == Question.Kind.NUMERIC:
        return {"value": str(question.answer["value"] + 1)}
    if question.kind == Question.Kind.ORDERING:
        items = grading.display_items(question, seed=attempt.seed)
        right = [question.answer["order"].index(item) + 1 for item in items]
        return {f"position-{i}": str(len(items) + 1 - p) for i, p in enumerate(right)}
    return {"rating": "1"}


def _answer(client: Client, attempt: QuizAttempt, question: Question, data: dict) -> object:
    return client.post(reverse("lessons:answer", args=[attempt.pk, question.pk]), data, **HTMX)


# --- the question bank as content -------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("    - text: KS\n      correct: true\n", "    - text: KS\n", "needs exactly one correct choice, not 0"),
        (
            "  answer: [Collect, Train, Deploy]",
            "  answer: [Collect, Train, Ship]",
            "must be a permutation of its 'items'",
        ),
        ("- id: first-numeric", "- id: first-single", "duplicate question id 'first-single'"),
        ("  tolerance: 0.005", "  tolerance: -1", "'tolerance' must be a number of zero or more"),
        ("  answer: false", "  answer: nope", "needs 'answer: true' or 'answer: false'"),
        ("  model_answer: Inputs or relationships change after training.\n", "", "missing required key 'model_answer'"),
        ("  kind: multiple", "  kind: essay", "kind must be one of"),
    ],
)
def test_bad_questions_fail_with_file_and_line(tmp_path: object, old: str, new: str, problem: str) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=QUESTIONS.replace(old, new))
    with pytest.raises(ContentError) as error:
        read_content(content)
    messages = [str(p) for p in error.value.problems]
    assert any(problem in m and m.startswith("lessons/content/01-first/questions.yaml:") for m in messages), messages


def test_the_bank_meets_its_counts() -> None:
    from lessons.services import CONTENT_ROOT

    course = read_content(CONTENT_ROOT)
    explain = 0
    for node in course.nodes:
        graded = [q for q in node.questions if q.kind != "explain"]
        assert len(graded) >= 12, node.slug
        explain += len(node.questions) - len(graded)
    assert explain >= 40


# --- grading ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_kind_is_graded_right_and_wrong(learner: User, course: object) -> None:
    node = Node.objects.get(slug="first")
    for question in node.questions.all():
        for answer_for, expected in ((_right_answer, True), (_wrong_answer, False)):
            attempt = attempts.attempt_start_node(user=learner, node=node)
            if question.kind == Question.Kind.EXPLAIN:
                continue
            saved = attempts.answer_submit(
                attempt=attempt, question=question, data=_querydict(answer_for(attempt, question))
            )
            assert saved.correct is expected, (question.qid, expected)


def _querydict(data: dict) -> object:
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


@pytest.mark.django_db
def test_numeric_answers_use_the_tolerance_and_accept_a_comma(learner: User, course: object) -> None:
    question = Question.objects.get(qid="first-numeric")
    for raw, expected in (("0.2549", True), ("0,2451", True), ("0.2551", False), ("0.26", False)):
        attempt = attempts.attempt_start_node(user=learner, node=question.node)
        saved = attempts.answer_submit(attempt=attempt, question=question, data=_querydict({"value": raw}))
        assert saved.correct is expected, raw


def test_shuffles_are_seeded_per_attempt() -> None:
    items = list(range(20))
    assert grading.shuffled(items, seed=7, salt="q") == grading.shuffled(items, seed=7, salt="q")
    assert grading.shuffled(items, seed=7, salt="q") != grading.shuffled(items, seed=8, salt="q")


# --- the node quiz over HTTP ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reload_shows_the_same_order(learner_client: Client, course: object) -> None:
    attempt = _start(learner_client)

    def page() -> str:
        html = learner_client.get(reverse("lessons:attempt", args=[attempt.pk])).content.decode()
        return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', "", html)  # masked afresh each time

    assert page() == page()


@pytest.mark.django_db
def test_no_key_explanation_or_feedback_reaches_the_page_before_an_answer(
    learner_client: Client, course: object
) -> None:
    attempt = _start(learner_client)
    html = learner_client.get(reverse("lessons:attempt", args=[attempt.pk])).content.decode()
    for question in Question.objects.filter(node__slug="first"):
        assert question.explanation_html.strip() not in html, question.qid
        for choice in question.choices.all():
            if choice.feedback:
                assert choice.feedback not in html
    # Choices go out by their position on the page, never by id.
    for block in html.split('<article class="question card"')[1:]:
        values = re.findall(r'name="choice" value="([^"]+)"', block)
        assert values == [str(i) for i in range(len(values))]
    assert "is-correct" not in html
    assert "Collect, Train, Deploy" not in html


@pytest.mark.django_db
def test_an_answer_comes_back_with_feedback_and_explanation(learner_client: Client, course: object) -> None:
    attempt = _start(learner_client)
    question = Question.objects.get(qid="first-single")
    shown = grading.display_choices(question, list(question.choices.all()), seed=attempt.seed)
    wrong = next(i for i, c in enumerate(shown) if c.text == "Chi-square")
    response = _answer(learner_client, attempt, question, {"choice": str(wrong)})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not quite" in html
    assert "Chi-square compares category counts." in html
    assert "KS compares two empirical distribution functions." in html
    assert 'id="attempt-status" class="card attempt-status" aria-live="polite" hx-swap-oob="true"' in html


@pytest.mark.django_db
def test_answering_twice_is_refused_with_409_and_changes_nothing(learner_client: Client, course: object) -> None:
    attempt = _start(learner_client)
    question = Question.objects.get(qid="first-true-false")
    assert _answer(learner_client, attempt, question, {"value": "false"}).status_code == 200
    response = _answer(learner_client, attempt, question, {"value": "true"})
    assert response.status_code == 409
    assert Answer.objects.get(attempt=attempt).response == {"value": False}


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{"choice": "7"}, {"choice": "-1"}, {"choice": "abc"}])
def test_a_choice_that_is_not_on_the_page_is_refused_with_400(
    learner_client: Client, course: object, data: dict
) -> None:
    attempt = _start(learner_client)
    response = _answer(learner_client, attempt, Question.objects.get(qid="first-single"), data)
    assert response.status_code == 400
    assert not Answer.objects.exists()


@pytest.mark.django_db
def test_a_question_from_another_attempt_or_node_is_refused(
    learner_client: Client, learner: User, course: object, tmp_path: object
) -> None:
    attempt = _start(learner_client)
    other = Question.objects.create(
        node=Node.objects.get(slug="second"), qid="elsewhere", kind="true_false", prompt="x", explanation="y",
        answer={"value": True},
    )  # fmt: skip
    assert _answer(learner_client, attempt, other, {"value": "true"}).status_code == 400
    assert not Answer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("forged", [{"score": "100"}, {"correct": "true"}, {"passed": "1"}])
def test_a_forged_score_is_refused(learner_client: Client, course: object, forged: dict) -> None:
    attempt = _start(learner_client)
    question = Question.objects.get(qid="first-true-false")
    response = _answer(learner_client, attempt, question, {"value": "false", **forged})
    assert response.status_code == 400
    assert not Answer.objects.exists()


@pytest.mark.django_db
def test_an_empty_or_malformed_answer_is_a_422_with_a_message(learner_client: Client, course: object) -> None:
    attempt = _start(learner_client)
    numeric = Question.objects.get(qid="first-numeric")
    response = _answer(learner_client, attempt, numeric, {"value": "a quarter"})
    assert response.status_code == 422
    assert "Enter a number" in response.content.decode()
    ordering = Question.objects.get(qid="first-ordering")
    response = _answer(learner_client, attempt, ordering, {"position-0": "1", "position-1": "1", "position-2": "2"})
    assert response.status_code == 422
    assert not Answer.objects.exists()


@pytest.mark.django_db
def test_another_learners_attempt_is_not_found(
    client: Client, learner: User, other_learner: User, course: object
) -> None:
    attempt = attempts.attempt_start_node(user=other_learner, node=Node.objects.get(slug="first"))
    client.force_login(learner)
    assert client.get(reverse("lessons:attempt", args=[attempt.pk])).status_code == 404
    question = Question.objects.get(qid="first-true-false")
    assert _answer(client, attempt, question, {"value": "false"}).status_code == 404


@pytest.mark.django_db
def test_a_retry_starts_a_fresh_attempt_and_closes_the_open_one(learner_client: Client, course: object) -> None:
    first = _start(learner_client)
    second = _start(learner_client)
    assert first.pk != second.pk
    first.refresh_from_db()
    assert first.finished_at is not None
    assert first.passed is False


# --- completion and unlocking -----------------------------------------------------------------


def _pass_quiz(client: Client, slug: str = "first") -> QuizAttempt:
    attempt = _start(client, slug)
    for question in Question.objects.filter(pk__in=attempt.question_ids):
        assert _answer(client, attempt, question, _right_answer(attempt, question)).status_code == 200
    attempt.refresh_from_db()
    return attempt


@pytest.mark.django_db
def test_passing_the_quiz_completes_a_node_without_a_check_and_unlocks_the_next(
    learner_client: Client, learner: User, course: object
) -> None:
    second = reverse("lessons:node", args=["second"])
    assert learner_client.get(second).status_code == 403
    attempt = _pass_quiz(learner_client)
    assert (attempt.passed, attempt.correct, attempt.graded) == (True, 5, 5)
    assert NodeProgress.objects.get(user=learner, node__slug="first").completed_at is not None
    assert learner_client.get(second).status_code == 200
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert "map-node map-node--completed" in html
    assert "map-node--locked" not in html


@pytest.mark.django_db
def test_a_score_below_the_pass_mark_fails(learner_client: Client, course: object) -> None:
    attempt = _start(learner_client)
    questions = list(Question.objects.filter(pk__in=attempt.question_ids))
    for index, question in enumerate(questions):
        data = _wrong_answer(attempt, question) if index == 0 else _right_answer(attempt, question)
        _answer(learner_client, attempt, question, data)
    attempt.refresh_from_db()
    assert (attempt.correct, attempt.passed) == (4, True)  # 80 % meets the default pass mark
    Node.objects.filter(slug="first").update(pass_mark=90)
    attempt = _start(learner_client)
    for index, question in enumerate(Question.objects.filter(pk__in=attempt.question_ids)):
        data = _wrong_answer(attempt, question) if index == 0 else _right_answer(attempt, question)
        _answer(learner_client, attempt, question, data)
    attempt.refresh_from_db()
    assert (attempt.correct, attempt.passed) == (4, False)


@pytest.fixture
def first_check() -> Iterator[dict]:
    """A check for the first node's challenge key whose answer the test sets; removed again afterwards."""
    state = {"met": False}

    def check(user: User) -> ChallengeStatus:
        return ChallengeStatus(title="Do the thing", steps=[("Do the thing", state["met"])])

    with registered("test.first", check):
        yield state


@pytest.mark.django_db
def test_a_registered_challenge_must_also_be_met(
    learner_client: Client, learner: User, course: object, first_check: dict
) -> None:
    _pass_quiz(learner_client)
    progress = NodeProgress.objects.get(user=learner, node__slug="first")
    assert progress.quiz_passed_at is not None
    assert progress.completed_at is None
    assert "Do the thing" in learner_client.get(reverse("lessons:node", args=["first"])).content.decode()
    assert learner_client.get(reverse("lessons:node", args=["second"])).status_code == 403
    first_check["met"] = True
    assert attempts.progress_refresh(user=learner) == [Node.objects.get(slug="first")]
    assert learner_client.get(reverse("lessons:node", args=["second"])).status_code == 200


@pytest.mark.django_db
def test_a_check_registered_for_a_block_is_removed_after_it_even_on_an_error(learner: User) -> None:
    def check(user: User) -> ChallengeStatus:
        return ChallengeStatus(title="Block", steps=[("Inside", True)])

    def fail_inside() -> None:
        with registered("test.block", check):
            assert challenge_status("test.block", learner).met
            raise RuntimeError("the test failed inside the block")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert challenge_status("test.block", learner) is None
    # Registering it again is allowed once it is gone.
    with registered("test.block", lambda user: ChallengeStatus(title="Again")):
        assert challenge_status("test.block", learner).title == "Again"


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_locked_nodes_quiz_answers_403_by_url_and_by_htmx(
    learner_client: Client, learner: User, course: object, headers: dict
) -> None:
    assert learner_client.get(reverse("lessons:quiz", args=["second"]), **headers).status_code == 403
    assert learner_client.post(reverse("lessons:quiz_start", args=["second"]), **headers).status_code == 403
    node = Node.objects.get(slug="second")
    question = Question.objects.create(
        node=node, qid="second-tf", kind="true_false", prompt="p", explanation="e", answer={"value": True}
    )
    # An attempt made while roaming freely stays locked once free roam is off.
    attempt = QuizAttempt.objects.create(user=learner, node=node, seed=1, question_ids=[question.pk], graded=1)
    assert learner_client.get(reverse("lessons:attempt", args=[attempt.pk]), **headers).status_code == 403
    assert _answer(learner_client, attempt, question, {"value": "true"}).status_code == 403
    assert not Answer.objects.exists()


@pytest.mark.django_db
def test_free_roam_opens_every_node_but_completes_none(learner_client: Client, learner: User, course: object) -> None:
    response = learner_client.post(reverse("lessons:profile"), {"free_roam": "on"})
    assert response.status_code == 302
    assert LearnerProfile.objects.get(user=learner).free_roam
    assert learner_client.get(reverse("lessons:node", args=["second"])).status_code == 200
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert "map-node--locked" not in html
    assert "map-node--completed" not in html
    learner_client.post(reverse("lessons:profile"), {})
    assert learner_client.get(reverse("lessons:node", args=["second"])).status_code == 403


# --- interview mode, reviews and FSRS ---------------------------------------------------------


@pytest.mark.django_db
def test_an_interview_session_mixes_kinds_one_at_a_time_and_ends_on_time(
    learner_client: Client, learner: User, course: object
) -> None:
    response = learner_client.post(reverse("lessons:interview_start"), {"stages": ["first"], "minutes": "10"})
    attempt = QuizAttempt.objects.get(mode=QuizAttempt.Mode.INTERVIEW)
    assert response.url == reverse("lessons:attempt", args=[attempt.pk])
    assert set(Question.objects.filter(pk__in=attempt.question_ids).values_list("kind", flat=True)) >= {
        "explain",
        "single",
    }
    html = learner_client.get(response.url).content.decode()
    assert html.count('class="question card"') == 1
    assert 'class="timer"' in html

    first = Question.objects.get(pk=attempt.question_ids[0])
    if first.kind == Question.Kind.EXPLAIN:
        reveal = learner_client.get(reverse("lessons:reveal", args=[attempt.pk, first.pk]), **HTMX).content.decode()
        assert "Inputs or relationships change after training." in reveal
    assert _answer(learner_client, attempt, first, _wrong_answer(attempt, first)).status_code == 200

    QuizAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    second = Question.objects.get(pk=attempt.question_ids[1])
    response = _answer(learner_client, attempt, second, _right_answer(attempt, second))
    assert response.status_code == 409
    assert "Time is up" in response.content.decode()
    attempt.refresh_from_db()
    assert attempt.finished_at is not None
    assert attempt.answers.count() == 1
    page = learner_client.get(reverse("lessons:attempt", args=[attempt.pk])).content.decode()
    assert "Session over" in page
    assert '<script type="application/json" id="figure-' in page  # the scorecard chart


@pytest.mark.django_db
def test_bad_interview_settings_are_refused(learner_client: Client, course: object) -> None:
    for data in ({"stages": ["first"], "minutes": "15"}, {"minutes": "10"}, {"stages": ["first"], "minutes": "x"}):
        response = learner_client.post(reverse("lessons:interview_start"), data, follow=True)
        assert response.redirect_chain[-1][0] == reverse("lessons:interview")
    assert not QuizAttempt.objects.exists()


@pytest.mark.django_db
def test_misses_and_hard_cards_enter_the_review_queue_and_show_in_the_navigation(
    learner_client: Client, learner: User, course: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    single = Question.objects.get(qid="first-single")
    card = Question.objects.get(qid="first-explain")
    numeric = Question.objects.get(qid="first-numeric")
    assert attempts.review_record(user=learner, question=single, correct=False, rating=None, now=now)
    assert attempts.review_record(user=learner, question=card, correct=None, rating=2, now=now)
    assert attempts.review_record(user=learner, question=numeric, correct=True, rating=None, now=now) is None
    assert attempts.review_record(user=learner, question=card, correct=None, rating=4, now=now) is not None
    assert set(ReviewCard.objects.values_list("question__qid", flat=True)) == {"first-single", "first-explain"}
    later = now + timedelta(minutes=11)
    due = attempts.reviews_due(user=learner, now=later).count()
    assert due >= 1
    # The navigation reads the clock itself: it is stopped at the same moment, so the count cannot drift.
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert f"Review ({due} due)".encode() in learner_client.get(reverse("lessons:interview")).content
    monkeypatch.setattr(timezone, "now", lambda: now - timedelta(minutes=1))
    assert b"Review (" not in learner_client.get(reverse("lessons:interview")).content


@pytest.mark.django_db
def test_fsrs_scheduling_under_a_fixed_clock(learner: User, course: object) -> None:
    question = Question.objects.get(qid="first-single")
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    row = attempts.review_record(user=learner, question=question, correct=False, rating=None, now=start)
    assert row.due == start + timedelta(minutes=1)  # first learning step
    row = attempts.review_record(user=learner, question=question, correct=True, rating=None, now=row.due)
    assert row.due == start + timedelta(minutes=11)  # second learning step, ten minutes on
    row = attempts.review_record(user=learner, question=question, correct=True, rating=None, now=row.due)
    graduated = row.due - (start + timedelta(minutes=11))
    assert graduated >= timedelta(days=1)  # graduated to review: days, not minutes
    assert row.reviews == 3
    assert row.last_rating == 3


@pytest.mark.django_db
def test_a_review_session_works_through_what_is_due(learner_client: Client, learner: User, course: object) -> None:
    question = Question.objects.get(qid="first-true-false")
    attempts.review_record(
        user=learner, question=question, correct=False, rating=None, now=timezone.now() - timedelta(hours=1)
    )
    learner_client.post(reverse("lessons:review_start"))
    attempt = QuizAttempt.objects.get(mode=QuizAttempt.Mode.REVIEW)
    assert attempt.question_ids == [question.pk]
    before = ReviewCard.objects.get().due
    assert _answer(learner_client, attempt, question, {"value": "false"}).status_code == 200
    card = ReviewCard.objects.get()
    assert card.due > before
    assert card.reviews == 2
    attempt.refresh_from_db()
    assert attempt.finished_at is not None
    assert learner_client.post(reverse("lessons:review_start")).status_code == 302
    assert QuizAttempt.objects.filter(mode=QuizAttempt.Mode.REVIEW).count() == 1


@pytest.mark.django_db
def test_instructors_see_question_statistics_in_the_admin(admin_client: Client, learner: User, course: object) -> None:
    question = Question.objects.get(qid="first-single")
    for _ in range(2):
        attempt = attempts.attempt_start_node(user=learner, node=question.node)
        shown = grading.display_choices(question, list(question.choices.all()), seed=attempt.seed)
        chi_square = next(i for i, c in enumerate(shown) if c.text == "Chi-square")
        attempts.answer_submit(attempt=attempt, question=question, data=_querydict({"choice": str(chi_square)}))
    attempt = attempts.attempt_start_node(user=learner, node=question.node)
    attempts.answer_submit(attempt=attempt, question=question, data=_querydict(_right_answer(attempt, question)))
    html = admin_client.get(reverse("admin:lessons_question_changelist"), {"q": "first-single"}).content.decode()
    assert "33%" in html
    assert "Chi-square (2×)" in html
