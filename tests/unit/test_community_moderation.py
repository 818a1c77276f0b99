"""Community moderation: reports, the moderators' queue, hiding and restoring (the author told why), locking,
an author's edits (the previous text kept) and deletions (only while unanswered), and the notifications inbox."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from community import moderation, notifications, services
from community.models import Notification, Post, PostRevision, Report
from lessons.models import Node
from mlopslab.refusals import Refused

pytestmark = pytest.mark.django_db

BODY = "My endpoint answers 400 when I send one row of churn data."


@pytest.fixture
def first(course: object) -> Node:
    return Node.objects.get(slug="first")


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="mira", password="correct horse battery")
    user.groups.add(instructors)
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ask(author: User, node: Node, title: str = "Why does my endpoint answer 400?") -> Post:
    return services.question_ask(author=author, title=title, body=BODY, node=node)


def _answer(author: User, question: Post, body: str = "Send the columns the model was trained on.") -> Post:
    return services.answer_post(author=author, question=question, body=body)


# --- reports ---------------------------------------------------------------------------------------------------


def test_a_post_is_reported_once_per_person_and_never_by_its_author(
    learner: User, other_learner: User, first: Node
) -> None:
    question = _ask(learner, first)
    url = reverse("community:report", kwargs={"post_id": question.pk})
    reporter = _client(other_learner)
    response = reporter.post(url, {"reason": "off_topic", "detail": "Not about MLOps."})
    assert response.status_code == 302
    again = reporter.post(url, {"reason": "spam"})
    assert again.status_code == 409
    assert "once by each person" in again.content.decode()
    own = _client(learner).post(url, {"reason": "spam"})
    assert own.status_code == 403
    assert list(Report.objects.values_list("reporter__username", "reason", "detail")) == [
        ("grace", "off_topic", "Not about MLOps.")
    ]


def test_htmx_loads_the_report_form_in_place_and_answers_with_a_thank_you(
    learner: User, other_learner: User, first: Node
) -> None:
    question = _ask(learner, first)
    url = reverse("community:report", kwargs={"post_id": question.pk})
    form = _client(other_learner).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert form.startswith(f'<div class="mod-report" id="report-{question.pk}">')
    response = _client(other_learner).post(url, {"reason": "rude"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "a moderator will look at the post" in response.content.decode()
    assert "<h1>" not in response.content.decode()


def test_a_learner_cannot_open_the_queue_or_moderate(learner: User, other_learner: User, first: Node) -> None:
    question = _ask(learner, first)
    client = _client(other_learner)
    assert client.get(reverse("community:moderation")).status_code == 403
    for name in ("hide", "restore", "lock", "unlock", "dismiss", "post_history"):
        method = client.get if name == "post_history" else client.post
        response = method(reverse(f"community:{name}", kwargs={"post_id": question.pk}), {"reason": "spam"})
        assert response.status_code == 403, name
    question.refresh_from_db()
    assert question.hidden_at is None
    assert question.locked_at is None


def test_the_queue_groups_open_reports_by_post_with_its_earlier_text(
    learner: User, other_learner: User, instructor: User, first: Node, django_user_model: type
) -> None:
    question = _ask(learner, first, title="Why is my <b>gate</b> red?")
    moderation.post_edit(post=question, editor=learner, title="Why is my gate red?", body=BODY + " Edited now.")
    third = django_user_model.objects.create_user(username="linus")
    moderation.report_create(post=question, reporter=other_learner, reason="answer_leak", detail="Quiz answer <i>")
    moderation.report_create(post=question, reporter=third, reason="spam")
    html = _client(instructor).get(reverse("community:moderation")).content.decode()
    assert html.count('class="card mod-item"') == 1
    assert "Gives away a quiz answer" in html
    assert "Spam or advertising" in html
    assert "grace" in html
    assert "linus" in html
    assert "Quiz answer &lt;i&gt;" in html
    assert "Why is my &lt;b&gt;gate&lt;/b&gt; red?" in html  # the earlier title, escaped
    assert "Edited now." in html


# --- hiding and restoring --------------------------------------------------------------------------------------


def test_a_hidden_question_is_gone_for_others_and_its_author_is_told_why(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first, title="Drift report shows nothing")
    moderation.report_create(post=question, reporter=other_learner, reason="rude")
    response = _client(instructor).post(
        reverse("community:hide", kwargs={"post_id": question.pk}),
        {"reason": "Rude words about a classmate.", "next": "queue"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("community:moderation")
    question.refresh_from_db()
    assert question.hidden_reason == "Rude words about a classmate."
    assert Report.objects.get().outcome == Report.Outcome.HIDDEN
    other = _client(other_learner)
    listing = reverse("community:question_list")
    assert "Drift report shows nothing" not in other.get(listing).content.decode()
    assert "Drift report shows nothing" not in other.get(listing, {"q": "drift"}).content.decode()
    assert other.get(reverse("community:question", kwargs={"post_id": question.pk})).status_code == 404
    notification = Notification.objects.get(recipient=learner)
    assert (notification.kind, notification.message) == ("hidden", "Rude words about a classmate.")
    for viewer in (learner, instructor):
        page = _client(viewer).get(reverse("community:question", kwargs={"post_id": question.pk})).content.decode()
        assert "Hidden by a moderator" in page
        assert "Rude words about a classmate." in page


def test_a_restored_post_is_back_and_its_author_is_told(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first, title="Drift report shows nothing")
    moderation.post_hide(post=question, moderator=instructor, reason="Spam.")
    response = _client(instructor).post(reverse("community:restore", kwargs={"post_id": question.pk}))
    assert response.status_code == 302
    listing = _client(other_learner).get(reverse("community:question_list")).content.decode()
    assert "Drift report shows nothing" in listing
    assert list(Notification.objects.filter(recipient=learner).values_list("kind", flat=True)) == [
        "restored",
        "hidden",
    ]
    with pytest.raises(Refused) as refused:
        moderation.post_restore(post=question, moderator=instructor)
    assert refused.value.status == 409


def test_hiding_needs_a_reason(learner: User, instructor: User, first: Node) -> None:
    question = _ask(learner, first)
    response = _client(instructor).post(reverse("community:hide", kwargs={"post_id": question.pk}), {"reason": "  "})
    assert response.status_code == 422
    question.refresh_from_db()
    assert question.hidden_at is None
    assert not Notification.objects.exists()


def test_hiding_and_restoring_an_answer_keeps_the_answer_count(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first)
    answer = _answer(other_learner, question)
    moderation.post_hide(post=answer, moderator=instructor, reason="Gives away the quiz.")
    question.refresh_from_db()
    assert question.answer_count == 0
    moderation.post_restore(post=answer, moderator=instructor)
    question.refresh_from_db()
    assert question.answer_count == 1


# --- locking ---------------------------------------------------------------------------------------------------


def test_a_locked_question_takes_no_answers_and_says_so(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first)
    assert _client(instructor).post(reverse("community:lock", kwargs={"post_id": question.pk})).status_code == 302
    question.refresh_from_db()
    with pytest.raises(Refused) as refused:
        _answer(other_learner, question)
    assert refused.value.status == 403
    page = _client(other_learner).get(reverse("community:question", kwargs={"post_id": question.pk}))
    assert "Locked by a moderator" in page.content.decode()
    assert _client(instructor).post(reverse("community:unlock", kwargs={"post_id": question.pk})).status_code == 302
    question.refresh_from_db()
    assert _answer(other_learner, question).pk


def test_only_a_question_is_locked(learner: User, other_learner: User, instructor: User, first: Node) -> None:
    answer = _answer(other_learner, _ask(learner, first))
    with pytest.raises(Refused) as refused:
        moderation.question_lock(question=answer, moderator=instructor)
    assert refused.value.status == 422


# --- the author's edits and deletions --------------------------------------------------------------------------


def test_an_edit_keeps_the_previous_text_and_marks_the_post_edited(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first, title="Old title about drift")
    url = reverse("community:post_edit", kwargs={"post_id": question.pk})
    client = _client(learner)
    assert client.get(url).status_code == 200
    new_body = "Now with **the traceback** from the serving log, and the payload."
    response = client.post(url, {"title": "New title about serving", "body": new_body})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.edited_at is not None
    assert "<strong>the traceback</strong>" in question.body_html
    assert "serving" in question.search_document
    revision = PostRevision.objects.get(post=question)
    assert (revision.title, revision.body) == ("Old title about drift", BODY)
    assert "edited" in _client(other_learner).get(reverse("community:question", args=[question.pk])).content.decode()
    history = _client(instructor).get(reverse("community:post_history", kwargs={"post_id": question.pk}))
    assert "Old title about drift" in history.content.decode()
    assert _client(other_learner).get(url).status_code == 404


def test_an_edit_follows_the_posting_rules_and_saves_nothing_when_refused(learner: User, first: Node) -> None:
    question = _ask(learner, first)
    url = reverse("community:post_edit", kwargs={"post_id": question.pk})
    client = _client(learner)
    for body in ("", "x" * 20_001, "https://example.com https://example.org"):
        response = client.post(url, {"title": "A title", "body": body})
        assert response.status_code == 422, body[:20]
    assert not PostRevision.objects.exists()
    question.refresh_from_db()
    assert question.edited_at is None


def test_a_post_is_deleted_only_while_nobody_has_replied(learner: User, other_learner: User, first: Node) -> None:
    answered = _ask(learner, first)
    answer = _answer(other_learner, answered)
    services.comment_post(author=learner, parent=answer, body="Thanks, which columns exactly?")
    author = _client(learner)
    refused = author.post(reverse("community:post_delete", kwargs={"post_id": answered.pk}))
    assert refused.status_code == 409
    assert "answered or commented" in refused.content.decode()
    commented = _client(other_learner).post(reverse("community:post_delete", kwargs={"post_id": answer.pk}))
    assert commented.status_code == 409
    alone = _ask(learner, first, title="A question nobody answered")
    assert author.post(reverse("community:post_delete", kwargs={"post_id": alone.pk})).status_code == 302
    assert not Post.objects.filter(pk=alone.pk).exists()
    assert _client(other_learner).post(reverse("community:post_delete", args=[answered.pk])).status_code == 404
    assert Post.objects.filter(pk=answered.pk).exists()


def test_deleting_an_answer_nobody_commented_on_counts_the_answers_again(
    learner: User, other_learner: User, first: Node
) -> None:
    question = _ask(learner, first)
    answer = _answer(other_learner, question)
    moderation.post_delete(post=answer, user=other_learner)
    question.refresh_from_db()
    assert question.answer_count == 0


# --- notifications ---------------------------------------------------------------------------------------------


def test_the_inbox_counts_and_lists_notifications_and_marks_them_read(
    learner: User, other_learner: User, first: Node
) -> None:
    question = _ask(learner, first, title="Why is my gate red?")
    answer = _answer(other_learner, question)
    services.comment_post(author=other_learner, parent=question, body="Which metric does the gate check?")
    assert notifications.unread_count(learner) == 2
    client = _client(learner)
    assert "Notifications (2" in client.get(reverse("lessons:map")).content.decode()
    html = client.get(reverse("community:notifications")).content.decode()
    assert html.count("inbox__item--unread") == 2
    assert f'href="/community/{question.pk}/#post-{answer.pk}"' in html
    assert notifications.unread_count(learner) == 0
    assert "inbox__item--unread" not in client.get(reverse("community:notifications")).content.decode()


def test_notifications_about_a_hidden_post_are_neither_shown_nor_counted(
    learner: User, other_learner: User, instructor: User, first: Node
) -> None:
    question = _ask(learner, first)
    answer = _answer(other_learner, question)
    services.comment_post(author=other_learner, parent=question, body="And which metric does the gate check?")
    moderation.post_hide(post=answer, moderator=instructor, reason="Gives away the quiz.")
    assert notifications.unread_count(learner) == 1
    assert [n.kind for n in notifications.inbox(learner)] == ["comment"]
    # The answer's author still hears about their own hidden post, with the reason.
    assert [(n.kind, n.message) for n in notifications.inbox(other_learner)] == [("hidden", "Gives away the quiz.")]


def test_notifications_read_marks_all_read(learner: User, other_learner: User, first: Node) -> None:
    _answer(other_learner, _ask(learner, first))
    response = _client(learner).post(reverse("community:notifications_read"))
    assert response.status_code == 302
    assert notifications.unread_count(learner) == 0


def test_an_anonymous_visitor_sees_who_is_active_but_no_notifications(client: Client, course: object) -> None:
    html = client.get(reverse("home")).content.decode()
    assert "Notifications" not in html
    assert "active now" in html
