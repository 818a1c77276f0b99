"""Cohorts as instructors and learners use them: permissions, invites, the heatmap, statistics, stuck, CSV."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohorts import selectors, services
from cohorts.models import Cohort, CohortMembership, StageDeadline
from lessons.models import Answer, Choice, LearnerProfile, Node, NodeProgress, Question, QuizAttempt
from mlopslab.refusals import Refused
from sandbox.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="mira", password="correct horse battery")
    user.groups.add(instructors)
    return user


@pytest.fixture
def other_instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="noor", password="correct horse battery")
    user.groups.add(instructors)
    return user


@pytest.fixture
def cohort(instructor: User, course: object) -> Cohort:
    return services.cohort_create(instructor=instructor, name="Autumn class")


@pytest.fixture
def instructor_client(client: Client, instructor: User) -> Client:
    client.force_login(instructor)
    return client


def _cohort_urls(cohort: Cohort) -> list[str]:
    return [
        reverse("cohorts:list"),
        reverse("cohorts:create"),
        reverse("cohorts:detail", args=[cohort.pk]),
        reverse("cohorts:edit", args=[cohort.pk]),
        reverse("cohorts:deadlines", args=[cohort.pk]),
        reverse("cohorts:invite", args=[cohort.pk]),
        reverse("cohorts:export", args=[cohort.pk]),
    ]


def _finished_attempt(user: User, node: Node, results: dict[Question, bool], *, passed: bool | None = None) -> None:
    correct = sum(results.values())
    attempt = QuizAttempt.objects.create(
        user=user, mode=QuizAttempt.Mode.NODE, node=node, seed=1, question_ids=[q.pk for q in results],
        finished_at=timezone.now(), correct=correct, graded=len(results),
        passed=passed if passed is not None else correct == len(results),
    )  # fmt: skip
    for question, right in results.items():
        if question.kind in ("single", "multiple"):
            pick = [c.pk for c in question.choices.all() if c.correct == right][:1]
            response = {"choices": pick}
        else:
            response = {"value": 0.5}
        Answer.objects.create(attempt=attempt, question=question, response=response, correct=right)


# --- permissions ------------------------------------------------------------------------------


def test_a_learner_gets_403_from_every_cohort_url_and_its_fragment(learner_client: Client, cohort: Cohort) -> None:
    for url in _cohort_urls(cohort):
        for method in (learner_client.get, learner_client.post):
            assert method(url).status_code == 403, url
    assert learner_client.get(_cohort_urls(cohort)[2], HTTP_HX_REQUEST="true").status_code == 403


def test_another_instructor_finds_no_cohort_of_mine(client: Client, other_instructor: User, cohort: Cohort) -> None:
    client.force_login(other_instructor)
    for url in _cohort_urls(cohort)[2:]:
        for method in (client.get, client.post):
            assert method(url, {"action": "expire", "name": "Mine now"}).status_code in (404, 405), url
    assert client.get(_cohort_urls(cohort)[2], HTTP_HX_REQUEST="true").status_code == 404
    assert "Autumn class" not in client.get(reverse("cohorts:list")).content.decode()
    cohort.refresh_from_db()
    assert (cohort.name, cohort.invite_expires_at) == ("Autumn class", None)


def test_an_anonymous_visitor_is_sent_to_log_in_and_back(client: Client, cohort: Cohort) -> None:
    link = reverse("cohorts:join_code", args=[cohort.invite_code])
    for url in [*_cohort_urls(cohort), reverse("cohorts:join"), link]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert f"next={link}" in client.get(link)["Location"].replace("%2F", "/")


# --- instructor pages -------------------------------------------------------------------------


def test_an_instructor_creates_a_cohort_and_sees_its_invite(instructor_client: Client, course: object) -> None:
    response = instructor_client.post(reverse("cohorts:create"), {"name": "Spring", "stuck_after_days": "5"})
    cohort = Cohort.objects.get(name="Spring")
    assert response.status_code == 302
    assert (cohort.stuck_after_days, len(cohort.invite_code)) == (5, 8)
    assert set(cohort.invite_code) <= set(services.CODE_ALPHABET)
    page = instructor_client.get(reverse("cohorts:detail", args=[cohort.pk])).content.decode()
    assert cohort.invite_code in page
    assert f"/cohorts/join/{cohort.invite_code}/" in page
    assert "Spring" in instructor_client.get(reverse("cohorts:list")).content.decode()


def test_a_bad_cohort_form_is_shown_in_place_and_saves_nothing(instructor_client: Client, course: object) -> None:
    response = instructor_client.post(reverse("cohorts:create"), {"name": "", "stuck_after_days": "0"})
    assert response.status_code == 422
    assert b"This field is required" in response.content
    assert not Cohort.objects.exists()


def test_a_new_code_replaces_the_old_and_expiring_closes_the_invite(
    instructor_client: Client, cohort: Cohort, learner: User
) -> None:
    old = cohort.invite_code
    instructor_client.post(reverse("cohorts:invite", args=[cohort.pk]), {"action": "regenerate"})
    cohort.refresh_from_db()
    assert cohort.invite_code != old
    with pytest.raises(Refused) as wrong:
        services.membership_join(learner=learner, code=old)
    assert wrong.value.status == 404
    instructor_client.post(reverse("cohorts:invite", args=[cohort.pk]), {"action": "expire"})
    cohort.refresh_from_db()
    assert not cohort.invite_open()
    assert instructor_client.post(reverse("cohorts:invite", args=[cohort.pk]), {"action": "x"}).status_code == 400


# --- learners joining -------------------------------------------------------------------------


def test_a_learner_joins_by_code_in_any_case_with_dashes(learner_client: Client, cohort: Cohort, learner: User) -> None:
    typed = f"{cohort.invite_code[:4].lower()}-{cohort.invite_code[4:]}"
    response = learner_client.post(reverse("cohorts:join"), {"code": typed})
    assert response.status_code == 302
    assert CohortMembership.objects.filter(cohort=cohort, learner=learner).exists()


def test_a_wrong_code_says_so_in_place(learner_client: Client, cohort: Cohort) -> None:
    response = learner_client.post(reverse("cohorts:join"), {"code": "ZZZZZZZZ"})
    assert response.status_code == 404
    assert "No cohort has that invite code" in response.content.decode()
    assert not CohortMembership.objects.exists()


def test_an_expired_code_says_so_and_joins_nobody(learner_client: Client, cohort: Cohort) -> None:
    services.cohort_invite_expire(cohort=cohort)
    response = learner_client.post(reverse("cohorts:join"), {"code": cohort.invite_code})
    assert response.status_code == 410
    assert "has expired" in response.content.decode()
    link = reverse("cohorts:join_code", args=[cohort.invite_code])
    assert learner_client.get(link).status_code == 410
    assert learner_client.post(link).status_code == 410
    assert not CohortMembership.objects.exists()


def test_joining_twice_says_so_and_keeps_one_membership(learner_client: Client, cohort: Cohort) -> None:
    link = reverse("cohorts:join_code", args=[cohort.invite_code])
    page = learner_client.get(link)
    assert page.status_code == 200
    assert "Autumn class" in page.content.decode()
    assert learner_client.post(link).status_code == 302
    again = learner_client.post(link)
    assert again.status_code == 409
    assert "already joined" in again.content.decode()
    assert "already in this cohort" in learner_client.get(link).content.decode()
    assert CohortMembership.objects.count() == 1


def test_an_invite_link_with_an_unknown_code_is_not_found(learner_client: Client, cohort: Cohort) -> None:
    assert learner_client.get(reverse("cohorts:join_code", args=["NOPE2346"])).status_code == 404
    assert learner_client.post(reverse("cohorts:join_code", args=["NOPE2346"])).status_code == 404


def test_an_instructor_cannot_join_their_own_cohort(instructor: User, cohort: Cohort) -> None:
    with pytest.raises(Refused):
        services.membership_join(learner=instructor, code=cohort.invite_code)
    assert not CohortMembership.objects.exists()


def test_a_learner_sees_their_cohort_and_deadlines_on_the_map_and_the_stage(
    learner_client: Client, cohort: Cohort, learner: User
) -> None:
    first = Node.objects.get(slug="first")
    services.membership_join(learner=learner, code=cohort.invite_code)
    services.deadlines_set(cohort=cohort, due={first.pk: date(2031, 5, 12)})
    page = learner_client.get(reverse("lessons:map")).content.decode()
    assert "Autumn class" in page
    assert "12 May 2031" in page
    stage = learner_client.get(reverse("lessons:node", args=["first"])).content.decode()
    assert "Autumn class" in stage
    assert "12 May 2031" in stage
    assert "12 May 2031" not in learner_client.get(reverse("lessons:node", args=["second"])).content.decode()


def test_a_learner_of_no_cohort_sees_no_cohort(learner_client: Client, cohort: Cohort) -> None:
    StageDeadline.objects.create(cohort=cohort, node=Node.objects.get(slug="first"), due=date(2031, 5, 12))
    assert "Autumn class" not in learner_client.get(reverse("lessons:map")).content.decode()
    assert "12 May 2031" not in learner_client.get(reverse("lessons:node", args=["first"])).content.decode()


def test_deadlines_are_set_and_cleared_by_the_form(instructor_client: Client, cohort: Cohort) -> None:
    first, second = Node.objects.order_by("order")
    url = reverse("cohorts:deadlines", args=[cohort.pk])
    instructor_client.post(url, {f"stage_{first.pk}": "2031-05-12", f"stage_{second.pk}": "2031-06-01"})
    assert selectors.cohort_deadlines(cohort=cohort) == {first.pk: date(2031, 5, 12), second.pk: date(2031, 6, 1)}
    instructor_client.post(url, {f"stage_{first.pk}": "2031-05-13", f"stage_{second.pk}": ""})
    assert selectors.cohort_deadlines(cohort=cohort) == {first.pk: date(2031, 5, 13)}
    bad = instructor_client.post(url, {f"stage_{first.pk}": "not a date"})
    assert bad.status_code == 422
    assert selectors.cohort_deadlines(cohort=cohort) == {first.pk: date(2031, 5, 13)}


# --- the cohort page --------------------------------------------------------------------------


def test_the_heatmap_shows_each_state(
    instructor_client: Client, cohort: Cohort, learner: User, other_learner: User, django_user_model: type
) -> None:
    first, second = Node.objects.order_by("order")
    roamer = django_user_model.objects.create_user(username="roamer")
    quizzer = django_user_model.objects.create_user(username="quizzer")
    for user in (learner, other_learner, roamer, quizzer):
        CohortMembership.objects.create(cohort=cohort, learner=user)
    now = timezone.now()
    NodeProgress.objects.create(user=learner, node=first, quiz_passed_at=now, challenge_met_at=now, completed_at=now)
    NodeProgress.objects.create(user=quizzer, node=first, quiz_passed_at=now)
    NodeProgress.objects.create(user=quizzer, node=second, challenge_met_at=now)
    LearnerProfile.objects.create(user=roamer, free_roam=True)
    states = {row.username: [c.state for c in row.cells] for row in selectors.cohort_heatmap(cohort=cohort).rows}
    assert states == {
        "ada": ["completed", "open"],
        "grace": ["open", "locked"],
        "roamer": ["open", "open"],
        "quizzer": ["quiz_passed", "challenge_met"],
    }
    fragment = instructor_client.get(reverse("cohorts:detail", args=[cohort.pk]), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 15s"' in html
    for label in ("Completed", "Open", "Locked", "Quiz passed", "Challenge met"):
        assert f'<span class="visually-hidden">{label}</span>' in html
    assert '<th scope="row">quizzer</th>' in html


def test_question_statistics_show_share_discrimination_and_wrong_choices(
    instructor_client: Client, cohort: Cohort, django_user_model: type
) -> None:
    first = Node.objects.get(slug="first")
    single = Question.objects.get(qid="first-single")
    numeric = Question.objects.get(qid="first-numeric")
    learners = [django_user_model.objects.create_user(username=f"l{n}") for n in range(4)]
    for user in learners:
        CohortMembership.objects.create(cohort=cohort, learner=user)
    # single right for the two who also got numeric right, wrong for the others.
    for user, right in zip(learners, (True, True, False, False), strict=True):
        _finished_attempt(user, first, {single: right, numeric: right})
    report = selectors.cohort_report(cohort=cohort)
    stat = next(s for s in report.questions if s.question == single)
    assert (stat.summary.answered, stat.percent_correct) == (4, 50)
    assert stat.summary.discrimination == pytest.approx(1.0)
    wrong_pick = Choice.objects.filter(question=single, correct=False).order_by("order").first()
    assert [(w.text_html, w.percent) for w in stat.wrong][:1] == [(wrong_pick.text_html, 50)]
    assert all(s.question.kind != "explain" for s in report.questions)
    page = instructor_client.get(reverse("cohorts:detail", args=[cohort.pk])).content.decode()
    assert "Which test suits a numerical feature?" in page
    assert "1.00" in page


def test_most_missed_lists_questions_under_half_with_enough_answers(cohort: Cohort, django_user_model: type) -> None:
    first = Node.objects.get(slug="first")
    single = Question.objects.get(qid="first-single")
    for n in range(selectors.MOST_MISSED_MIN_ANSWERS):
        user = django_user_model.objects.create_user(username=f"m{n}")
        CohortMembership.objects.create(cohort=cohort, learner=user)
        _finished_attempt(user, first, {single: n == 0}, passed=False)
    assert [s.question for s in selectors.cohort_report(cohort=cohort).most_missed] == [single]


def test_answers_of_learners_outside_the_cohort_are_not_counted(cohort: Cohort, learner: User) -> None:
    first = Node.objects.get(slug="first")
    _finished_attempt(learner, first, {Question.objects.get(qid="first-single"): True})
    report = selectors.cohort_report(cohort=cohort)
    assert sum(s.summary.answered for s in report.questions) == 0
    assert report.learners == []


def test_stuck_learners_have_each_reason(cohort: Cohort, django_user_model: type) -> None:
    first = Node.objects.get(slug="first")
    single = Question.objects.get(qid="first-single")
    idle, failing, recovered, job_failed, busy = (
        django_user_model.objects.create_user(username=name)
        for name in ("idle", "failing", "recovered", "job_failed", "busy")
    )
    for user in (idle, failing, recovered, job_failed, busy):
        CohortMembership.objects.create(cohort=cohort, learner=user)
    CohortMembership.objects.filter(learner=idle).update(joined_at=timezone.now() - timedelta(days=10))
    for _ in range(3):
        _finished_attempt(failing, first, {single: False})
        _finished_attempt(recovered, first, {single: False})
    _finished_attempt(recovered, first, {single: True})
    Job.objects.create(owner=job_failed, kind="first_model", status=Job.Status.FAILED)
    Job.objects.create(owner=busy, kind="first_model", status=Job.Status.FAILED)
    Job.objects.create(owner=busy, kind="first_model", status=Job.Status.SUCCEEDED)
    report = selectors.cohort_report(cohort=cohort)
    reasons = {learner.row.username: learner.stuck for learner in report.learners}
    assert reasons["idle"] == ["no progress for 10 days (the cohort allows 7)"]
    assert reasons["failing"] == ["3 failed attempts at the “The first node” quiz, no pass since"]
    assert len(reasons["job_failed"]) == 1
    assert reasons["job_failed"][0].startswith("a failed sandbox job")
    assert reasons["recovered"] == reasons["busy"] == []
    assert {learner.row.username for learner in report.stuck} == {"idle", "failing", "job_failed"}


def test_recent_activity_keeps_a_long_time_member_off_the_stuck_list(cohort: Cohort, learner: User) -> None:
    CohortMembership.objects.create(cohort=cohort, learner=learner)
    CohortMembership.objects.filter(learner=learner).update(joined_at=timezone.now() - timedelta(days=30))
    NodeProgress.objects.create(user=learner, node=Node.objects.get(slug="first"))
    assert selectors.cohort_report(cohort=cohort).stuck == []


def test_the_csv_has_one_row_per_learner_with_states_scores_and_reasons(
    instructor_client: Client, cohort: Cohort, learner: User, other_learner: User
) -> None:
    first = Node.objects.get(slug="first")
    for user in (learner, other_learner):
        CohortMembership.objects.create(cohort=cohort, learner=user)
    now = timezone.now()
    NodeProgress.objects.create(user=learner, node=first, quiz_passed_at=now, challenge_met_at=now, completed_at=now)
    single, numeric = Question.objects.get(qid="first-single"), Question.objects.get(qid="first-numeric")
    _finished_attempt(learner, first, {single: True, numeric: False}, passed=False)
    _finished_attempt(learner, first, {single: True, numeric: True})
    Job.objects.create(owner=other_learner, kind="first_model", status=Job.Status.FAILED)
    response = instructor_client.get(reverse("cohorts:export", args=[cohort.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="cohort-{cohort.pk}-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["username"] for row in rows] == ["ada", "grace"]
    ada, grace = rows
    assert (ada["1. The first node state"], ada["2. The second node state"]) == ("Completed", "Open")
    assert (ada["1. The first node best quiz %"], ada["2. The second node best quiz %"]) == ("100", "")
    assert ada["stuck reason"] == ""
    assert grace["1. The first node state"] == "Open"
    assert grace["stuck reason"].startswith("a failed sandbox job")
    assert ada["last activity"]
    assert ada["joined"]


def test_the_cohort_page_asks_no_more_queries_for_more_learners(
    instructor_client: Client, cohort: Cohort, django_user_model: type, django_assert_max_num_queries: object
) -> None:
    first = Node.objects.get(slug="first")
    single = Question.objects.get(qid="first-single")
    url = reverse("cohorts:detail", args=[cohort.pk])

    def add_learners(count: int, start: int) -> None:
        for n in range(start, start + count):
            user = django_user_model.objects.create_user(username=f"q{n}")
            CohortMembership.objects.create(cohort=cohort, learner=user)
            NodeProgress.objects.create(user=user, node=first, quiz_passed_at=timezone.now())
            _finished_attempt(user, first, {single: n % 2 == 0})
            Job.objects.create(owner=user, kind="first_model", status=Job.Status.FAILED)

    add_learners(2, 0)
    instructor_client.get(url)  # warm: the course snapshot and its questions
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert instructor_client.get(url).status_code == 200
    add_learners(20, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = instructor_client.get(url)
    assert response.content.decode().count('<th scope="row">q') == 22


@pytest.mark.django_db(transaction=True)
def test_kept_statistics_add_attempts_finished_since_and_drop_a_learner_who_left(
    cohort: Cohort, django_user_model: type
) -> None:
    first = Node.objects.get(slug="first")
    single, numeric = Question.objects.get(qid="first-single"), Question.objects.get(qid="first-numeric")
    users = [django_user_model.objects.create_user(username=f"k{n}") for n in range(3)]
    for user in users:
        CohortMembership.objects.create(cohort=cohort, learner=user)
    _finished_attempt(users[0], first, {single: True, numeric: True})
    _finished_attempt(users[1], first, {single: False, numeric: False})

    def figures() -> dict[str, tuple]:
        stats = {s.question.qid: s for s in selectors.cohort_report(cohort=cohort).questions}
        return {qid: (s.summary.answered, s.summary.correct, s.summary.discrimination) for qid, s in stats.items()}

    assert figures()["first-single"][:2] == (2, 1)
    assert selectors._figures, "kept outside a transaction"
    _finished_attempt(users[2], first, {single: True, numeric: False})
    kept = figures()
    selectors._figures.clear()
    assert kept == figures()
    assert kept["first-single"][:2] == (3, 2)
    CohortMembership.objects.filter(learner=users[0]).delete()
    assert figures()["first-single"][:2] == (2, 1)
