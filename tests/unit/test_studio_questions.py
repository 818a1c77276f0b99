"""The studio's question editor: every kind created and edited from the form as rendered, the bank's rules
refused in place with nothing saved, stale saves shown with the diff, and the try-it panel grading an unsaved
question exactly as the quiz grades a learner's answer."""

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessons import attempts
from lessons.models import Answer, Node, Question
from studio.models import Revision

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user("teacher")
    user.groups.add(instructors)
    return user


@pytest.fixture
def author(client: Client, instructor: User, course: object) -> Client:
    client.force_login(instructor)
    return client


class _FormFields(HTMLParser):
    """The fields the editor's form would post as rendered: inputs, checked boxes, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == "question-editor":
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
            self.fields.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def _form(client: Client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    parser = _FormFields()
    parser.feed(response.content.decode())
    return parser.fields


def _edit_url(qid: str) -> str:
    return reverse("studio:question_edit", kwargs={"question_id": Question.objects.get(qid=qid).pk})


def _revisions(qid: str) -> int:
    return Revision.objects.filter(kind="question", key=qid).count()


# --- permissions ------------------------------------------------------------------------------


def test_a_learner_gets_403_from_every_question_page_and_fragment(learner_client: Client, course: object) -> None:
    pk = Question.objects.get(qid="first-single").pk
    kept = _revisions("first-single")
    for method, url in (
        ("get", reverse("studio:question_list")),
        ("get", reverse("studio:question_create") + "?node=first&kind=single"),
        ("get", reverse("studio:question_edit", kwargs={"question_id": pk})),
        ("post", reverse("studio:question_edit", kwargs={"question_id": pk})),
        ("post", reverse("studio:question_check")),
        ("post", reverse("studio:question_try") + "?grade=1"),
    ):
        response = getattr(learner_client, method)(url, {"node": "first", "kind": "single"}, **HTMX)
        assert response.status_code == 403, url
    assert _revisions("first-single") == kept


def test_anonymous_visitors_are_sent_to_log_in(client: Client, course: object) -> None:
    response = client.get(reverse("studio:question_list"))
    assert response.status_code == 302


# --- the bank ---------------------------------------------------------------------------------


def test_the_bank_lists_questions_by_stage_filtered_by_stage_and_kind(author: Client) -> None:
    page = author.get(reverse("studio:question_list")).content.decode()
    assert "<h1>" in page
    assert page.count('class="question-row"') == 6
    assert "What is 0.1 + 0.15?" in page
    assert _edit_url("first-numeric") in page
    assert reverse("studio:history", kwargs={"kind": "question", "key": "first-numeric"}) in page
    assert reverse("studio:question_create") + "?node=second&amp;kind=ordering" in page
    filtered = author.get(reverse("studio:question_list"), {"node": "first", "kind": "numeric"}).content.decode()
    assert filtered.count('class="question-row"') == 1


# --- create and edit every kind ---------------------------------------------------------------

NEW = {
    "single": {"choice-0-text": "Yes", "choice-0-correct": "1", "choice-1-text": "No", "choice-1-feedback": "Nope."},
    "multiple": {"choice-0-text": "A", "choice-0-correct": "1", "choice-1-text": "B", "choice-2-text": "C"},
    "true_false": {"truth": "true"},
    "ordering": {
        "item-0-text": "Serve",
        "item-0-position": "3",
        "item-1-text": "Collect",
        "item-1-position": "1",
        "item-2-text": "Train",
        "item-2-position": "2",
    },
    "numeric": {"answer": "0.25", "tolerance": "0.005", "unit": "s"},
    "explain": {"model_answer": "Because **reasons**."},
}
KEYS = {
    "single": {},
    "multiple": {},
    "true_false": {"value": True},
    "ordering": {"order": ["Collect", "Train", "Serve"]},
    "numeric": {"value": 0.25, "tolerance": 0.005, "unit": "s"},
    "explain": {},
}


@pytest.mark.parametrize("kind", list(NEW))
def test_an_author_creates_a_question_of_every_kind(author: Client, kind: str) -> None:
    url = reverse("studio:question_create") + f"?node=second&kind={kind}"
    fields = _form(author, url)
    qid = f"second-new-{kind.replace('_', '-')}"
    fields.update(qid=qid, prompt="Is it *new*?", explanation="It is.", difficulty="3", tags="a, b", message="New")
    response = author.post(url, {**fields, **NEW[kind]})
    assert response.status_code == 302, response.content.decode()[:3000]
    question = Question.objects.get(qid=qid)
    assert (question.node.slug, question.kind, question.difficulty, question.tags) == ("second", kind, 3, ["a", "b"])
    assert question.answer == KEYS[kind]
    assert question.prompt_html.strip() == "<p>Is it <em>new</em>?</p>"
    revision = Revision.objects.get(kind="question", key=qid)
    assert (revision.author.username, revision.message) == ("teacher", "New")
    if kind in ("single", "multiple"):
        assert [(c.text, c.correct) for c in question.choices.all()] == [
            (row, bool(NEW[kind].get(f"choice-{i}-correct")))
            for i, row in enumerate(("Yes", "No") if kind == "single" else "ABC")
        ]
    assert response.url == _edit_url(qid)


def test_a_taken_id_is_refused_in_place(author: Client) -> None:
    url = reverse("studio:question_create") + "?node=first&kind=true_false"
    fields = {**_form(author, url), "qid": "first-single", "prompt": "P", "explanation": "E", "truth": "true"}
    check = author.post(reverse("studio:question_check"), fields, **HTMX).content.decode()
    assert "there is already a question with id" in check
    response = author.post(url, fields)
    assert response.status_code == 409
    assert "already a question named" in response.content.decode()
    assert Question.objects.get(qid="first-single").kind == "single"


@pytest.mark.parametrize(
    "qid", ["first-single", "first-multiple", "first-true-false", "first-ordering", "first-numeric", "first-explain"]
)
def test_an_author_edits_every_kind_from_the_form_as_rendered(author: Client, qid: str) -> None:
    url = _edit_url(qid)
    fields = _form(author, url)
    kept = _revisions(qid)
    assert fields["base_number"] == str(kept)
    before = Question.objects.get(qid=qid)
    # The form as rendered reads back as the question it shows: saving it unchanged is no new revision's worth.
    unchanged = author.post(reverse("studio:question_check"), fields, **HTMX).content.decode()
    assert "No problems" in unchanged
    response = author.post(url, {**fields, "prompt": fields["prompt"] + " Now edited.", "message": "Clarify"})
    assert response.status_code == 302
    after = Question.objects.get(qid=qid)
    assert after.prompt.endswith("Now edited.")
    assert (after.answer, after.kind, after.pk) == (before.answer, before.kind, before.pk)
    assert _revisions(qid) == kept + 1
    again = author.get(url).content.decode()
    assert reverse("studio:history", kwargs={"kind": "question", "key": qid}) in again
    assert f"Saved revision {kept + 1}" in again
    assert f'name="base_number" value="{kept + 1}"' in again


def test_an_edit_keeps_answers_already_given_pointing_at_their_choices(author: Client, learner: User) -> None:
    question = Question.objects.get(qid="first-single")
    attempt = attempts.attempt_start_node(user=learner, node=question.node)
    first = question.choices.get(order=1)
    Answer.objects.create(attempt=attempt, question=question, response={"choices": [first.pk]}, correct=True)
    pks = list(question.choices.values_list("pk", flat=True))
    fields = _form(author, _edit_url("first-single"))
    response = author.post(_edit_url("first-single"), {**fields, "choice-0-text": "Kolmogorov-Smirnov"})
    assert response.status_code == 302
    assert list(question.choices.values_list("pk", flat=True)) == pks
    answer = Answer.objects.get(question=question)
    assert question.choices.get(pk=answer.response["choices"][0]).text == "Kolmogorov-Smirnov"


# --- the bank's rules, as you type and on save ------------------------------------------------

BAD = [
    ("first-single", {"choice-0-correct": ""}, "needs exactly one correct choice, not 0"),
    ("first-multiple", {"choice-2-correct": "1"}, "at least one correct and one wrong choice"),
    ("first-ordering", {"item-0-position": "1", "item-1-position": "1"}, "must be a permutation of its 'items'"),
    ("first-ordering", {"item-2-text": "", "item-2-position": ""}, "at least three 'items'"),
    ("first-numeric", {"answer": "a quarter"}, "needs a number as 'answer'"),
    ("first-numeric", {"tolerance": "0.01"}, "accepts wrong roundings"),
    ("first-true-false", {"truth": ""}, "needs 'answer: true' or 'answer: false'"),
    ("first-explain", {"model_answer": ""}, "'model_answer' must not be empty"),
    ("first-single", {"prompt": ""}, "'prompt' must not be empty"),
]


@pytest.mark.parametrize(("qid", "change", "problem"), BAD, ids=[b[2][:30] for b in BAD])
def test_each_rule_of_the_bank_is_shown_as_you_type_and_refused_on_save(
    author: Client, qid: str, change: dict, problem: str
) -> None:
    url = _edit_url(qid)
    fields = {**_form(author, url), **change}
    checked = author.post(reverse("studio:question_check"), fields, **HTMX)
    assert checked.status_code == 200
    assert problem in unescape(checked.content.decode())
    assert "studio-file__line--problem" in unescape(checked.content.decode())
    before, kept = Question.objects.get(qid=qid), _revisions(qid)
    response = author.post(url, fields)
    assert response.status_code == 422
    page = unescape(response.content.decode())
    assert problem in page
    assert "Not saved:" in page
    after = Question.objects.get(qid=qid)
    assert (after.prompt, after.answer, _revisions(qid)) == (before.prompt, before.answer, kept)


def test_a_stale_save_is_refused_with_the_diff_against_the_newer_revision(
    author: Client, django_user_model: type, instructors: Group
) -> None:
    url = _edit_url("first-true-false")
    mine = _form(author, url)
    theirs_number = _revisions("first-true-false") + 1
    other = django_user_model.objects.create_user("colleague")
    other.groups.add(instructors)
    theirs = Client()
    theirs.force_login(other)
    assert theirs.post(url, {**mine, "prompt": "Their prompt."}).status_code == 302
    response = author.post(url, {**mine, "prompt": "My prompt."})
    assert response.status_code == 409
    page = response.content.decode()
    assert f"Revision {theirs_number} by colleague" in page
    assert "diff__row--replace" in page
    assert "My prompt." in page
    assert Question.objects.get(qid="first-true-false").prompt == "Their prompt."
    # Having seen the diff, saving again replaces their revision on purpose.
    assert f'name="base_number" value="{theirs_number}"' in page


# --- try it -----------------------------------------------------------------------------------


def _try(author: Client, qid: str, answer: dict, *, seed: int = 7, change: dict | None = None) -> object:
    fields = {**_form(author, _edit_url(qid)), **(change or {})}
    url = reverse("studio:question_try") + f"?grade=1&seed={seed}"
    return author.post(url, {**fields, **answer}, **HTMX)


def _shown_position(author: Client, qid: str, text: str, *, seed: int = 7) -> str:
    """The position the learner's page gives a choice, read from the try-it panel's inputs."""
    fields = _form(author, _edit_url(qid))
    shown = author.post(reverse("studio:question_try") + f"?seed={seed}", fields, **HTMX).content.decode()
    found = re.search(rf'name="choice" value="(\d+)"> <span><p>{text}</p>', shown)
    assert found, shown
    return found.group(1)


def test_try_it_shows_the_learners_inputs_of_the_unsaved_question(author: Client) -> None:
    fields = {**_form(author, _edit_url("first-numeric")), "unit": "seconds", "prompt": "Unsaved prompt"}
    shown = author.post(reverse("studio:question_try"), fields, **HTMX).content.decode()
    assert 'name="value"' in shown
    assert "seconds" in shown
    assert "Unsaved prompt" in shown
    assert Question.objects.get(qid="first-numeric").prompt == "What is 0.1 + 0.15?"


@pytest.mark.parametrize(
    ("qid", "right", "wrong"),
    [
        ("first-true-false", {"value": "false"}, {"value": "true"}),
        ("first-numeric", {"value": "0,254"}, {"value": "0.27"}),
        ("first-ordering", None, None),
    ],
)
def test_try_it_grades_right_and_wrong_answers_as_the_quiz_does(
    author: Client, qid: str, right: dict | None, wrong: dict | None
) -> None:
    if qid == "first-ordering":
        fields = _form(author, _edit_url(qid))
        shown = author.post(reverse("studio:question_try") + "?seed=7", fields, **HTMX).content.decode()
        items = [row.split("<span>")[1].split("</span>")[0] for row in shown.split('name="position-')[1:]]
        rank = {"Collect": 1, "Train": 2, "Deploy": 3}
        right = {f"position-{i}": str(rank[item]) for i, item in enumerate(items)}
        wrong = {f"position-{i}": str(4 - rank[item]) for i, item in enumerate(items)}
    good = _try(author, qid, right)
    assert good.status_code == 200
    assert "Correct" in good.content.decode()
    bad = _try(author, qid, wrong).content.decode()
    assert "Not quite" in bad
    assert Answer.objects.count() == 0


def test_try_it_grades_choices_by_their_shuffled_position(author: Client) -> None:
    right = _shown_position(author, "first-single", "KS")
    wrong = _shown_position(author, "first-single", "Chi-square")
    assert "Correct" in _try(author, "first-single", {"choice": right}).content.decode()
    answered = _try(author, "first-single", {"choice": wrong}).content.decode()
    assert "Not quite" in answered
    assert "Chi-square compares category counts." in answered


def test_try_it_grades_the_question_as_edited_not_as_saved(author: Client) -> None:
    change = {"answer": "0.3", "tolerance": "0.05"}
    assert "Correct" in _try(author, "first-numeric", {"value": "0.32"}, change=change).content.decode()


def test_try_it_rates_an_explain_card_as_a_learner_would(author: Client) -> None:
    shown = author.post(reverse("studio:question_try"), _form(author, _edit_url("first-explain")), **HTMX)
    assert 'name="rating"' in shown.content.decode()
    rated = _try(author, "first-explain", {"rating": "3"}).content.decode()
    assert "You rated this: Good" in rated


@pytest.mark.parametrize(
    ("qid", "answer", "message"),
    [
        ("first-numeric", {"value": "zero"}, "Enter a number"),
        ("first-single", {}, "Choose an answer first."),
        ("first-ordering", {"position-0": "1", "position-1": "1", "position-2": "2"}, "exactly once"),
    ],
)
def test_an_invalid_answer_in_try_it_shows_the_learners_message(
    author: Client, qid: str, answer: dict, message: str
) -> None:
    response = _try(author, qid, answer)
    assert response.status_code == 422
    assert message in response.content.decode()


def test_try_it_with_an_invalid_question_lists_its_problems(author: Client) -> None:
    response = _try(author, "first-single", {"choice": "0"}, change={"choice-0-correct": ""})
    assert response.status_code == 422
    assert "needs exactly one correct choice" in response.content.decode()


def test_an_unknown_stage_or_kind_is_refused_not_a_crash(author: Client) -> None:
    assert author.get(reverse("studio:question_create") + "?node=nope&kind=single").status_code == 404
    assert author.get(reverse("studio:question_create") + "?node=first&kind=essay").status_code == 400
    assert author.post(reverse("studio:question_check"), {"node": "first", "kind": "essay"}).status_code == 400
    assert Node.objects.count() == 2


# --- hostile input ----------------------------------------------------------------------------

FIELDS = [
    "qid", "prompt", "difficulty", "tags", "explanation", "model_answer", "answer", "tolerance", "unit", "truth",
    "choice-0-text", "choice-0-correct", "item-0-text", "item-0-position", "item-1-position", "base_number",
    "choice", "value", "position-0", "position-1", "rating", "message",
]  # fmt: skip
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "²", "١٢", "-1", "0", "1e309", "nan", "inf", "9" * 400, "\x00", "<script>", "a" * 300, "1,5"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(FIELDS), HOSTILE, max_size=6), kind=st.sampled_from(list(NEW)))
def test_hostile_values_in_the_editor_are_never_a_server_error(author: Client, data: dict, kind: str) -> None:
    qid = {"single": "first-single", "numeric": "first-numeric", "ordering": "first-ordering"}.get(kind)
    base = _form(author, _edit_url(qid)) if qid else {"node": "first", "kind": kind}
    posted = {**base, **data}
    for url in (
        reverse("studio:question_check"),
        reverse("studio:question_try") + f"?grade=1&seed={data.get('value', '1')}",
        reverse("studio:question_create") + f"?node=first&kind={kind}",
        *([_edit_url(qid)] if qid else []),
    ):
        response = author.post(url, posted, **HTMX)
        assert response.status_code < 500, (url, posted)


def test_a_new_question_can_be_tried_before_it_has_an_id(author: Client) -> None:
    url = reverse("studio:question_create") + "?node=first&kind=true_false"
    fields = {**_form(author, url), "prompt": "New?", "explanation": "Yes.", "truth": "true"}
    tried = author.post(reverse("studio:question_try") + "?grade=1&seed=3", {**fields, "value": "true"}, **HTMX)
    assert "Correct" in tried.content.decode()
    assert not Question.objects.filter(qid="new-question").exists()
