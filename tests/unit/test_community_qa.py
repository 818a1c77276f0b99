"""Community questions and answers: asking, answering, commenting, voting and accepting; every rule refused with
nothing saved; sorts, search, hidden posts, locked questions, notifications, and the stage and lesson counts."""

import datetime as dt
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community import selectors, services
from community.models import Notification, Post, Vote
from lessons.models import Lesson, Node
from mlopslab.refusals import Refused

pytestmark = pytest.mark.django_db

BODY = "My endpoint answers 400 when I send one row."


@pytest.fixture
def first(course: object) -> Node:
    return Node.objects.get(slug="first")


@pytest.fixture
def intro(first: Node) -> Lesson:
    return Lesson.objects.get(node=first, slug="intro")


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="mira", password="correct horse battery")
    user.groups.add(instructors)
    return user


@pytest.fixture
def third(django_user_model: type) -> User:
    return django_user_model.objects.create_user(username="linus", password="correct horse battery")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ask(author: User, title: str = "Why does my endpoint answer 400?", **fields: object) -> Post:
    return services.question_ask(author=author, title=title, body=fields.pop("body", BODY), **fields)


def _backdate(post: Post, minutes: float) -> None:
    Post.objects.filter(pk=post.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


# --- asking, answering, commenting, voting, accepting --------------------------------------------------------


def test_a_learner_asks_on_a_stage_and_another_answers_comments_votes(
    learner: User, other_learner: User, first: Node, intro: Lesson
) -> None:
    asker, helper = _client(learner), _client(other_learner)
    page = asker.get(reverse("community:question_ask") + "?lesson=first/intro")
    assert page.status_code == 200
    assert f'<option value="{intro.pk}" selected>' in page.content.decode()
    response = asker.post(
        reverse("community:question_ask"),
        {"title": "Gate failed", "body": "My **gate** failed with `f1=0.2`.", "node": first.pk, "lesson": intro.pk},
    )
    question = Post.objects.get(kind="question")
    assert response.status_code == 302
    assert response["Location"] == reverse("community:question", kwargs={"post_id": question.pk})
    assert question.lesson == intro
    assert "<strong>gate</strong>" in question.body_html
    assert question.search_document == "Gate failed My gate failed with f1=0.2."
    response = helper.post(reverse("community:answer_create", kwargs={"post_id": question.pk}), {"body": BODY})
    answer = Post.objects.get(kind="answer")
    assert response.status_code == 302
    assert response["Location"].endswith(f"#post-{answer.pk}")
    helper.post(reverse("community:comment_create", kwargs={"post_id": question.pk}), {"body": "Which version is it?"})
    asker.post(reverse("community:comment_create", kwargs={"post_id": answer.pk}), {"body": "Thank you, that works."})
    helper.post(reverse("community:vote", kwargs={"post_id": question.pk}), {"value": "up"})
    asker.post(reverse("community:vote", kwargs={"post_id": answer.pk}), {"value": "up"})
    question.refresh_from_db()
    assert question.answer_count == 1
    assert question.score == 1
    assert Post.objects.filter(kind="comment").count() == 2
    html = helper.get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
    assert "Gate failed" in html
    assert "Thank you, that works." in html
    assert "1 answer" in html


def test_the_asker_accepts_and_accepting_another_moves_it(learner: User, other_learner: User, third: User) -> None:
    question = _ask(learner)
    first_answer = services.answer_post(author=other_learner, question=question, body=BODY)
    second_answer = services.answer_post(author=third, question=question, body="Send the rows as dataframe_records.")
    with pytest.raises(Refused) as refused:
        services.answer_accept(user=other_learner, answer=first_answer)
    assert refused.value.status == 403
    response = _client(learner).post(reverse("community:accept", kwargs={"post_id": first_answer.pk}))
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.accepted_answer == first_answer
    services.answer_accept(user=learner, answer=second_answer)
    question.refresh_from_db()
    assert question.accepted_answer == second_answer
    shown = selectors.thread(question=question, user=other_learner).answers
    assert [a.pk for a in shown] == [second_answer.pk, first_answer.pk]


def test_answers_come_accepted_first_then_by_score_then_oldest(
    learner: User, other_learner: User, third: User, instructor: User
) -> None:
    question = _ask(learner)
    oldest = services.answer_post(author=other_learner, question=question, body="The oldest answer of all.")
    voted = services.answer_post(author=third, question=question, body="The best voted answer here.")
    accepted = services.answer_post(author=instructor, question=question, body="The accepted answer, by staff.")
    services.vote_cast(voter=learner, post=voted, value=1)
    services.answer_accept(user=learner, answer=accepted)
    question.refresh_from_db()
    answers = selectors.thread(question=question, user=learner).answers
    assert [a.pk for a in answers] == [accepted.pk, voted.pk, oldest.pk]
    assert accepted.by_instructor
    assert not voted.by_instructor
    html = _client(learner).get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
    assert html.count('class="qa-badge">Instructor</span>') == 1
    assert "Accepted answer" in html


def test_votes_change_or_are_taken_back_never_twice(learner: User, other_learner: User) -> None:
    question = _ask(learner)
    assert services.vote_cast(voter=other_learner, post=question, value=1) == 1
    assert services.vote_cast(voter=other_learner, post=question, value=-1) == -1
    question.refresh_from_db()
    assert question.score == -1
    assert Vote.objects.filter(post=question).count() == 1
    assert services.vote_cast(voter=other_learner, post=question, value=-1) == 0
    question.refresh_from_db()
    assert question.score == 0
    assert not Vote.objects.exists()


def test_htmx_swaps_the_vote_the_comments_and_the_answers(learner: User, other_learner: User) -> None:
    question = _ask(learner)
    helper = _client(other_learner)
    vote = helper.post(
        reverse("community:vote", kwargs={"post_id": question.pk}), {"value": "up"}, HTTP_HX_REQUEST="true"
    )
    assert vote.status_code == 200
    assert vote.content.decode().strip().startswith(f'<div class="qa-vote" id="vote-{question.pk}">')
    assert 'aria-pressed="true"' in vote.content.decode()
    url = reverse("community:comment_create", kwargs={"post_id": question.pk})
    comment = helper.post(url, {"body": "Which version of the model?"}, HTTP_HX_REQUEST="true")
    assert f'id="comments-{question.pk}"' in comment.content.decode()
    assert "Which version of the model?" in comment.content.decode()
    url = reverse("community:answer_create", kwargs={"post_id": question.pk})
    answer = helper.post(url, {"body": BODY}, HTTP_HX_REQUEST="true")
    assert answer.content.decode().strip().startswith('<section class="qa-answers" id="answers"')
    assert BODY in answer.content.decode()
    empty = helper.post(url, {"body": "  "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422
    assert "Your answer is empty" in empty.content.decode()


# --- the rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", BODY, "Give your question a title."),
        ("A title", "   ", "Your question is empty"),
        ("A title", "x" * 20_001, "20,001 characters long: keep it to 20,000"),
        ("t" * 201, BODY, "keep it to 200"),
        ("Links", "https://spam.example/a [see](https://spam.example/b) <https://x.example>", "only links"),
        ("Links", "[click here now](https://spam.example) www.spam.example", "only links"),
    ],
)
def test_a_bad_question_is_refused_with_nothing_saved(learner: User, title: str, body: str, message: str) -> None:
    with pytest.raises(Refused) as refused:
        services.question_ask(author=learner, title=title, body=body)
    assert message in refused.value.message
    assert refused.value.status == 422
    assert not Post.objects.exists()


def test_the_ask_page_shows_a_refusal_in_place(learner_client: Client) -> None:
    response = learner_client.post(reverse("community:question_ask"), {"title": "Help", "body": "https://a.example"})
    assert response.status_code == 422
    assert "only links" in response.content.decode()
    assert not Post.objects.exists()


def test_a_lesson_of_another_stage_is_refused(learner: User, course: object) -> None:
    second = Node.objects.get(slug="second")
    lesson = Lesson.objects.get(node__slug="first", slug="intro")
    with pytest.raises(Refused) as refused:
        _ask(learner, node=second, lesson=lesson)
    assert "is not part of the stage" in refused.value.message
    assert not Post.objects.exists()


def test_a_body_with_links_and_three_words_is_fine(learner: User) -> None:
    question = _ask(learner, body="See the docs https://docs.example/serving please")
    assert question.pk


def test_answers_and_comments_follow_the_same_rules(learner: User, other_learner: User) -> None:
    question = _ask(learner)
    with pytest.raises(Refused, match="Your answer is empty"):
        services.answer_post(author=other_learner, question=question, body="")
    with pytest.raises(Refused, match="keep it to 20,000"):
        services.comment_post(author=other_learner, parent=question, body="word " * 4001)
    assert Post.objects.count() == 1
    assert not Notification.objects.exists()


def test_ten_posts_an_hour_then_the_time_one_can_post_again(learner: User, other_learner: User) -> None:
    question = _ask(other_learner)
    posts = [services.answer_post(author=learner, question=question, body=f"Answer number {n} here.") for n in range(9)]
    posts.append(services.comment_post(author=learner, parent=question, body="A comment counts as well."))
    for minutes, post in zip(range(50, 0, -5), posts, strict=True):
        _backdate(post, minutes)
    oldest = Post.objects.get(pk=posts[0].pk).created_at
    with pytest.raises(Refused) as refused:
        _ask(learner)
    assert refused.value.status == 429
    again = timezone.localtime(oldest + dt.timedelta(hours=1))
    assert f"You can post again at {again:%H:%M}" in refused.value.message
    assert Post.objects.filter(author=learner).count() == 10
    response = _client(learner).post(
        reverse("community:answer_create", kwargs={"post_id": question.pk}), {"body": BODY}
    )
    assert response.status_code == 429
    assert f"You can post again at {again:%H:%M}" in response.content.decode()
    _backdate(posts[0], 61)
    assert _ask(learner).pk


def test_twenty_votes_a_minute_then_when(learner: User, other_learner: User) -> None:
    questions = Post.objects.bulk_create(
        Post(kind="question", author=other_learner, title=f"Q{n}", body=BODY, body_html=BODY) for n in range(21)
    )
    for question in questions[:20]:
        services.vote_cast(voter=learner, post=question, value=1)
    with pytest.raises(Refused) as refused:
        services.vote_cast(voter=learner, post=questions[20], value=1)
    assert refused.value.status == 429
    assert "You can vote again at" in refused.value.message
    assert Vote.objects.count() == 20
    response = _client(learner).post(
        reverse("community:vote", kwargs={"post_id": questions[20].pk}), {"value": "up"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 429
    assert "You can vote again at" in response.content.decode()


def test_nobody_votes_on_their_own_post(learner: User, learner_client: Client) -> None:
    question = _ask(learner)
    with pytest.raises(Refused) as refused:
        services.vote_cast(voter=learner, post=question, value=1)
    assert refused.value.status == 403
    response = learner_client.post(reverse("community:vote", kwargs={"post_id": question.pk}), {"value": "up"})
    assert response.status_code == 403
    assert not Vote.objects.exists()


def test_a_locked_question_takes_no_answers_or_comments(learner: User, other_learner: User, instructor: User) -> None:
    question = _ask(learner)
    Post.objects.filter(pk=question.pk).update(locked_at=timezone.now(), locked_by=instructor)
    helper = _client(other_learner)
    response = helper.post(reverse("community:answer_create", kwargs={"post_id": question.pk}), {"body": BODY})
    assert response.status_code == 403
    assert "This question is locked" in response.content.decode()
    response = helper.post(reverse("community:comment_create", kwargs={"post_id": question.pk}), {"body": BODY})
    assert response.status_code == 403
    assert Post.objects.count() == 1
    page = helper.get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
    assert "Post your answer" not in page
    updates = helper.get(reverse("community:question_updates", kwargs={"post_id": question.pk}) + "?after=0")
    assert updates.status_code == 286


PAYLOADS = [
    '<script>alert("x")</script>',
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a hx-get="/logout/" hx-trigger="load">x</a>',
]


class _Elements(HTMLParser):
    """Every element of a page with its attributes, as a browser would build them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append((tag, dict(attrs)))


def _dangerous(html: str) -> list[str]:
    parser = _Elements()
    parser.feed(html)
    bad = []
    for tag, attrs in parser.found:
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            bad.append("inline script")
        bad += [f"{tag} {name}" for name in attrs if name.startswith("on")]
        bad += [f"{tag} {name}" for name, value in attrs.items() if "/logout/" in (value or "") and name != "action"]
        bad += [
            f"{tag} {name}" for name, value in attrs.items() if (value or "").strip().lower().startswith("javascript:")
        ]
    return bad


def test_what_a_learner_writes_is_escaped_or_sanitized(learner: User, other_learner: User, first: Node) -> None:
    payload = " ".join(PAYLOADS)
    question = _ask(learner, title=payload, body=f"Some words first. {payload}", node=first)
    answer = services.answer_post(author=other_learner, question=question, body=f"Some words first. {payload}")
    services.comment_post(author=learner, parent=answer, body=f"Some words first. {payload}")
    client = _client(other_learner)
    for url in (
        reverse("community:question", kwargs={"post_id": question.pk}),
        reverse("community:question_list"),
        reverse("lessons:node", args=["first"]),
    ):
        html = client.get(url).content.decode()
        assert _dangerous(html) == []
        assert "&lt;script&gt;alert" in html
    updates = client.get(reverse("community:question_updates", kwargs={"post_id": question.pk}) + "?after=0")
    assert _dangerous(updates.content.decode()) == []


# --- lists, sorts, search -------------------------------------------------------------------------------------


def test_sorts_newest_unanswered_most_voted(learner: User, other_learner: User, third: User) -> None:
    old = _ask(learner, "An old question about drift")
    _backdate(old, 30)
    answered = _ask(learner, "A question with an answer")
    _backdate(answered, 20)
    services.answer_post(author=other_learner, question=answered, body=BODY)
    new = _ask(learner, "The newest question")
    services.vote_cast(voter=other_learner, post=old, value=1)
    services.vote_cast(voter=third, post=old, value=1)
    services.vote_cast(voter=other_learner, post=new, value=-1)

    def titles(sort: str) -> list[str]:
        return [p.title for p in selectors.questions(user=third, sort=sort)]

    assert titles("newest") == [new.title, answered.title, old.title]
    assert titles("unanswered") == [new.title, old.title]
    assert titles("votes") == [old.title, answered.title, new.title]
    html = _client(third).get(reverse("community:question_list") + "?sort=unanswered").content.decode()
    assert "A question with an answer" not in html
    assert "The newest question" in html


def test_lists_per_stage_and_per_lesson(learner: User, first: Node, intro: Lesson) -> None:
    _ask(learner, "About the stage", node=first)
    _ask(learner, "About the lesson", lesson=intro)
    _ask(learner, "About nothing in particular")
    client = _client(learner)
    stage = client.get(reverse("community:question_list") + "?node=first").content.decode()
    assert "About the stage" in stage
    assert "About the lesson" in stage
    assert "About nothing in particular" not in stage
    lesson = client.get(reverse("community:question_list") + "?lesson=first/intro").content.decode()
    assert "About the lesson" in lesson
    assert "About the stage" not in lesson
    assert client.get(reverse("community:question_list") + "?node=nowhere").status_code == 404


def test_search_finds_questions_by_words_in_title_and_body(learner: User) -> None:
    _ask(learner, "Endpoint answers 400", body="Posting one row to the deployed model fails with 400.")
    _ask(learner, "Drift report is empty", body="The drift report shows no columns after the retraining.")
    _ask(learner, "Gate failed", body="My promotion gate failed although f1 is high.")

    def found(q: str) -> list[str]:
        return [p.title for p in selectors.questions(user=learner, q=q)]

    assert found("drift columns") == ["Drift report is empty"]
    assert found("deployed") == ["Endpoint answers 400"]
    assert found("gate promotion") == ["Gate failed"]
    assert found("kubernetes") == []
    if connection.vendor == "postgresql":
        assert found("reports retrained") == ["Drift report is empty"]  # stemmed
    html = _client(learner).get(reverse("community:question_list") + "?q=drift+columns").content.decode()
    assert "Drift report is empty" in html
    assert "Gate failed" not in html
    fragment = _client(learner).get(
        reverse("community:question_list") + "?q=gate", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="question-results"
    )
    assert fragment.content.decode().strip().startswith('<div id="question-results"')


def test_hidden_posts_are_gone_for_others_but_not_the_author_or_a_moderator(
    learner: User, other_learner: User, instructor: User, first: Node, intro: Lesson
) -> None:
    question = _ask(learner, "A hidden question about drift", node=first, lesson=intro)
    shown = _ask(other_learner, "A shown question", node=first)
    answer = services.answer_post(author=learner, question=shown, body="A hidden answer about the gate.")
    Post.objects.filter(pk__in=[question.pk, answer.pk]).update(hidden_at=timezone.now(), hidden_by=instructor)
    services.question_counts_refresh(shown)
    assert shown.answer_count == 0
    for user, sees in ((other_learner, False), (learner, True), (instructor, True)):
        titles = [p.title for p in selectors.questions(user=user)]
        assert (question.title in titles) is sees
        assert bool([p for p in selectors.questions(user=user, q="drift")]) is sees
        assert (selectors.node_questions(node=first, user=user).count == 2) is sees
        assert (selectors.lesson_question_count(lesson=intro, user=user) == 1) is sees
        assert (answer.pk in [a.pk for a in selectors.thread(question=shown, user=user).answers]) is sees
        page = _client(user).get(reverse("community:question", kwargs={"post_id": question.pk}))
        assert (page.status_code == 200) is sees
    with pytest.raises(Refused):
        services.answer_post(author=other_learner, question=question, body=BODY)


# --- live answers ---------------------------------------------------------------------------------------------


def test_the_open_page_polls_new_answers_and_drops_hidden_ones(
    learner: User, other_learner: User, third: User, instructor: User
) -> None:
    question = _ask(learner)
    first_answer = services.answer_post(author=other_learner, question=question, body="The first answer here.")
    url = reverse("community:question_updates", kwargs={"post_id": question.pk})
    asker = _client(learner)
    page = asker.get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
    assert f"{url}?after={first_answer.pk}" in page
    assert asker.get(f"{url}?after={first_answer.pk}").status_code == 204
    second = services.answer_post(author=third, question=question, body="A second answer, a newer one.")
    updates = asker.get(f"{url}?after={first_answer.pk}", HTTP_HX_REQUEST="true")
    html = updates.content.decode()
    assert updates.status_code == 200
    assert "A second answer, a newer one." in html
    assert "The first answer here." not in html
    assert f"?after={second.pk}" in html
    Post.objects.filter(pk=first_answer.pk).update(hidden_at=timezone.now(), hidden_by=instructor)
    html = asker.get(f"{url}?after={second.pk}").content.decode()
    assert f'<div id="post-{first_answer.pk}" hx-swap-oob="delete"></div>' in html


# --- notifications --------------------------------------------------------------------------------------------


def test_notifications_on_answer_comment_and_accept_never_to_the_actor(
    learner: User, other_learner: User, third: User
) -> None:
    question = _ask(learner)
    answer = services.answer_post(author=other_learner, question=question, body=BODY)
    services.comment_post(author=learner, parent=question, body="A comment of my own here.")
    services.comment_post(author=third, parent=answer, body="A comment on the answer.")
    services.comment_post(author=other_learner, parent=answer, body="Replying on my own answer.")
    services.answer_accept(user=learner, answer=answer)
    got = sorted((n.recipient.username, n.kind) for n in Notification.objects.select_related("recipient"))
    assert got == [
        ("ada", "answer"),
        ("ada", "comment"),
        ("ada", "comment"),
        ("grace", "accepted"),
        ("grace", "comment"),
    ]
    assert not Notification.objects.filter(recipient=third).exists()


# --- the stage and lesson pages -------------------------------------------------------------------------------


def test_the_stage_and_lesson_pages_count_their_questions(
    learner: User, learner_client: Client, first: Node, intro: Lesson, django_assert_max_num_queries: object
) -> None:
    for n in range(4):
        _ask(learner, f"Stage question {n}", node=first)
    _ask(learner, "Lesson question", lesson=intro)
    stage = learner_client.get(reverse("lessons:node", args=["first"])).content.decode()
    assert "5 questions about this stage" in stage
    assert "Lesson question" in stage
    assert "Stage question 3" in stage
    assert "Stage question 0" not in stage
    assert "Ask about this stage" in stage
    lesson = learner_client.get(reverse("lessons:lesson", args=["first", "intro"])).content.decode()
    assert "1 question about this lesson" in lesson
    with django_assert_max_num_queries(1):
        found = selectors.node_questions(node=first, user=learner)
    assert found.count == 5
    with django_assert_max_num_queries(1):
        assert selectors.lesson_question_count(lesson=intro, user=learner) == 1


# --- sharing from the sandbox ---------------------------------------------------------------------------------


@pytest.fixture
def run(learner: User, settings: object, tmp_path: object) -> object:
    from sandbox.datasets import services as dataset_services
    from sandbox.ml import training
    from sandbox.models import Experiment, Run

    settings.MEDIA_ROOT = tmp_path
    churn = {"rows": 200, "noise": 0.1, "churn_rate": 0.3, "missing_rate": 0, "seed": 1}
    dataset = dataset_services.dataset_create_churn(owner=learner, name="churn", settings=churn)
    experiment = Experiment.objects.create(owner=learner, name="first tries", dataset=dataset)
    return Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="baseline <b>run</b>",
        algorithm="logistic_regression", params={"C": 1.0}, seed=1, status=Run.Status.SUCCEEDED,
        preparation=training.Preparation().as_dict(), metrics={"val_f1": 0.8123}, finished_at=timezone.now(),
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip


def test_a_run_attached_to_a_question_is_a_snapshot_others_read(
    learner: User, other_learner: User, run: object, first: Node
) -> None:
    asker = _client(learner)
    form = asker.get(reverse("community:question_ask") + "?node=first").content.decode()
    assert f'value="run:{run.pk}"' in form
    assert "Attach from your sandbox" in form
    response = asker.post(
        reverse("community:question_ask"),
        {"title": "Why is my f1 low?", "body": BODY, "node": first.pk, "attach": [f"run:{run.pk}"]},
    )
    question = Post.objects.get(kind="question")
    assert response.status_code == 302
    snapshot = question.snapshots.get()
    assert snapshot.kind == "run"
    assert snapshot.source_id == run.pk
    run.delete()
    html = _client(other_learner).get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
    assert "baseline &lt;b&gt;run&lt;/b&gt;" in html
    assert "0.8123" in html


def test_another_learners_run_cannot_be_attached(other_learner: User, run: object) -> None:
    response = _client(other_learner).post(
        reverse("community:question_ask"), {"title": "Look at this run", "body": BODY, "attach": [f"run:{run.pk}"]}
    )
    assert response.status_code == 422
    assert not Post.objects.exists()


@pytest.mark.parametrize("value", ["\x00", "first\x00/intro", "((", "!", "-", "a:*", '"', "9" * 40, "first/", "%_"])
def test_hostile_list_and_ask_parameters_are_never_a_server_error(learner_client: Client, value: str) -> None:
    for name in ("community:question_list", "community:question_ask"):
        for key in ("q", "node", "lesson", "sort", "page"):
            response = learner_client.get(reverse(name), {key: value})
            assert response.status_code in (200, 404), (name, key, response.status_code)
