"""The studio's stage, glossary and FAQ editors: authors only, every save a revision, refused in place with the
problems by line (cycles and unknown stages named), stale saves answered with the diff, and the learner's pages
showing each edit."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node
from studio.models import Revision

pytestmark = pytest.mark.django_db

STAGE = {
    "title": "The first node",
    "order": "1",
    "summary": "About first.",
    "objectives": "Learn first.",
    "pass_mark": "80",
    "challenge": "test.first",
    "message": "",
}


@pytest.fixture
def author(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user("teacher")
    user.groups.add(instructors)
    return user


@pytest.fixture
def author_client(client: Client, author: User) -> Client:
    client.force_login(author)
    return client


def _newest(kind: str, key: str) -> int:
    return Revision.objects.filter(kind=kind, key=key).order_by("-number").values_list("number", flat=True).first() or 0


def _post(client: Client, name: str, data: dict, **kwargs: object) -> object:
    return client.post(reverse(f"studio:{name}", kwargs=kwargs), data)


EVERY_URL = [
    ("node_list", {}, "get"),
    ("node_create", {}, "get"),
    ("node_create", {}, "post"),
    ("node_check", {}, "post"),
    ("node_edit", {"node_slug": "first"}, "get"),
    ("node_edit", {"node_slug": "first"}, "post"),
    ("term_list", {}, "get"),
    ("term_create", {}, "post"),
    ("term_edit", {"term_slug": "data-drift"}, "get"),
    ("term_edit", {"term_slug": "data-drift"}, "post"),
    ("faq_list", {}, "get"),
    ("faq_create", {}, "get"),
    ("faq_edit", {"faq_order": 1}, "get"),
    ("faq_edit", {"faq_order": 1}, "post"),
]


def test_a_learner_is_refused_every_page_and_fragment_and_changes_nothing(course: Path, learner_client: Client) -> None:
    before = Revision.objects.count()
    answers = []
    for name, kwargs, method in EVERY_URL:
        url = reverse(f"studio:{name}", kwargs=kwargs)
        headers = {"HTTP_HX_REQUEST": "true"} if name == "node_check" else {}
        answers.append(
            (name, method, getattr(learner_client, method)(url, {**STAGE, "slug": "x"}, **headers).status_code)
        )
    assert {status for _, _, status in answers} == {403}, answers
    assert Revision.objects.count() == before


def test_an_anonymous_visitor_is_sent_to_log_in(course: Path, client: Client) -> None:
    response = client.get(reverse("studio:node_list"))
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_stage_list_shows_prerequisites_pass_mark_challenge_and_counts(course: Path, author_client: Client) -> None:
    page = author_client.get(reverse("studio:node_list")).content.decode()
    assert "<h1>Stages</h1>" in page
    assert "<code>test.second</code>" in page
    assert reverse("studio:node_edit", kwargs={"node_slug": "second"}) in page
    second_row = page[page.index("The second node") :].split("</tr>")[0]
    assert "The first node" in second_row
    assert ">80%<" in second_row
    first_row = page[page.index("The first node</a>") :].split("</tr>")[0]
    assert '<td class="metric">6</td>' in first_row  # one question of every kind


def test_an_edit_saves_the_stage_keeps_a_revision_and_the_map_shows_it(course: Path, author_client: Client) -> None:
    form = author_client.get(reverse("studio:node_edit", kwargs={"node_slug": "second"}))
    assert form.status_code == 200
    assert f'name="base_number" value="{_newest("node", "second")}"' in form.content.decode()
    edit = {
        **STAGE,
        **{"title": "Second, renamed", "order": "2", "prerequisites": ["first"], "pass_mark": "70", "challenge": ""},
        **{"objectives": "One.\r\nTwo.\r\n", "message": "Rename", "base_number": _newest("node", "second")},
    }
    response = _post(author_client, "node_edit", edit, node_slug="second")
    assert response.status_code == 302
    node = Node.objects.get(slug="second")
    assert (node.title, node.pass_mark, node.challenge_key) == ("Second, renamed", 70, "")
    assert node.objectives == ["One.", "Two."]
    revision = Revision.objects.get(kind="node", key="second", number=_newest("node", "second"))
    assert (revision.message, revision.author.username) == ("Rename", "teacher")
    assert "Second, renamed" in author_client.get(reverse("lessons:map")).content.decode()


def test_a_new_stage_is_created_with_its_first_revision(course: Path, author_client: Client) -> None:
    page = author_client.get(reverse("studio:node_create")).content.decode()
    assert 'name="order" value="3"' in page
    new = {**STAGE, "slug": "third", "title": "The third node", "order": "3", "prerequisites": ["second"]}
    response = _post(author_client, "node_create", {**new, "message": "A new stage"})
    assert response["Location"] == reverse("studio:node_edit", kwargs={"node_slug": "third"})
    assert list(Node.objects.get(slug="third").prerequisites.values_list("slug", flat=True)) == ["second"]
    assert Revision.objects.get(kind="node", key="third").message == "A new stage"
    again = _post(author_client, "node_create", {**new, "message": "Twice"})
    assert again.status_code == 409
    assert "already a node named" in again.content.decode()


def test_a_cycle_is_refused_in_place_naming_the_stages_and_nothing_is_saved(
    course: Path, author_client: Client
) -> None:
    before = Revision.objects.count()
    edit = {**STAGE, "prerequisites": ["second"], "base_number": _newest("node", "first")}
    response = _post(author_client, "node_edit", edit, node_slug="first")
    page = response.content.decode()
    assert response.status_code == 422
    assert "prerequisites would form a cycle" in page
    assert "The first node" in page.split("would form a cycle")[1][:200]
    assert "The second node" in page.split("would form a cycle")[1][:200]
    assert "studio-file__line--problem" in page
    assert list(Node.objects.get(slug="first").prerequisites.all()) == []
    assert Revision.objects.count() == before


def test_the_check_fragment_reports_a_cycle_as_prerequisites_are_picked_and_saves_nothing(
    course: Path, author_client: Client
) -> None:
    before = Revision.objects.count()
    url = reverse("studio:node_check")
    cycle = author_client.post(url, {**STAGE, "editing": "first", "prerequisites": ["second"]}, HTTP_HX_REQUEST="true")
    assert cycle.status_code == 200
    assert "prerequisites would form a cycle" in cycle.content.decode()
    fine = author_client.post(url, {**STAGE, "editing": "second", "prerequisites": ["first"]}, HTTP_HX_REQUEST="true")
    assert "No problems" in fine.content.decode()
    assert "<html" not in fine.content.decode()
    assert Revision.objects.count() == before


def test_an_unknown_prerequisite_is_refused_by_its_line(course: Path, author_client: Client) -> None:
    base = _newest("node", "first")
    edit = {**STAGE, "prerequisites": ["nowhere"], "base_number": base}
    response = _post(author_client, "node_edit", edit, node_slug="first")
    assert response.status_code == 422
    assert "line 4:</span>unknown prerequisite &#x27;nowhere&#x27;" in response.content.decode()
    assert _newest("node", "first") == base


def test_a_stale_stage_save_is_refused_with_the_diff(course: Path, author_client: Client) -> None:
    base = _newest("node", "first")
    first = _post(author_client, "node_edit", {**STAGE, "title": "Theirs", "base_number": base}, node_slug="first")
    assert first.status_code == 302
    late = _post(author_client, "node_edit", {**STAGE, "title": "Mine", "base_number": base}, node_slug="first")
    page = late.content.decode()
    assert late.status_code == 409
    assert f"Revision {base + 1} by teacher" in page
    assert "Your edit" in page
    assert f'name="base_number" value="{base + 1}"' in page
    assert Node.objects.get(slug="first").title == "Theirs"


def test_a_term_edit_renders_the_lessons_again_with_its_link(course: Path, author_client: Client) -> None:
    page = author_client.get(reverse("studio:term_edit", kwargs={"term_slug": "data-drift"})).content.decode()
    assert 'value="covariate shift"' in page
    base = _newest("term", "data-drift")
    edit = {"term": "Body", "aliases": "", "definition": "What a lesson says.", "base_number": base, "message": "m"}
    response = _post(author_client, "term_edit", edit, term_slug="data-drift")
    assert response.status_code == 302
    assert _newest("term", "data-drift") == base + 1
    assert 'data-term="data-drift" rel="noopener noreferrer">Body</a>' in Lesson.objects.get(node__slug="first").html
    lesson_page = author_client.get(reverse("lessons:lesson", args=["first", "intro"])).content.decode()
    assert 'noreferrer">Body</a> of first intro' in lesson_page
    assert "What a lesson says." in author_client.get(reverse("lessons:glossary")).content.decode()


def test_a_new_term_is_created_and_a_phrase_of_another_term_is_refused(course: Path, author_client: Client) -> None:
    new = {
        "slug": "section",
        "term": "Section",
        "aliases": "part, chapter",
        "definition": "A part.",
        "match_case": "on",
    }
    assert _post(author_client, "term_create", new).status_code == 302
    term = GlossaryTerm.objects.get(slug="section")
    assert (term.aliases, term.match_case) == (["part", "chapter"], True)
    assert _newest("term", "section") == 1
    taken = _post(author_client, "term_create", {**new, "slug": "drift", "term": "Covariate shift", "aliases": ""})
    assert taken.status_code == 422
    assert "already used by the term" in taken.content.decode()
    assert not GlossaryTerm.objects.filter(slug="drift").exists()


def test_an_faq_entry_is_edited_and_a_new_one_goes_last(course: Path, author_client: Client) -> None:
    page = author_client.get(reverse("studio:faq_edit", kwargs={"faq_order": 1})).content.decode()
    assert "Its place is fixed" in page
    base = _newest("faq", "1")
    edit = {"question": "Is it free of charge?", "answer": "Yes.\r\n\r\nAlways.", "base_number": base, "message": "m"}
    assert _post(author_client, "faq_edit", edit, faq_order=1).status_code == 302
    assert FaqEntry.objects.get(order=1).answer_source == "Yes.\n\nAlways.\n"
    response = _post(author_client, "faq_create", {"question": "Who made it?", "answer": "A team.", "message": "new"})
    assert response["Location"] == reverse("studio:faq_edit", kwargs={"faq_order": 2})
    faq = author_client.get(reverse("lessons:faq")).content.decode()
    assert "Is it free of charge?" in faq
    assert "Who made it?" in faq
    assert (_newest("faq", "1"), _newest("faq", "2")) == (base + 1, 1)


def test_an_empty_answer_is_refused_in_place_and_a_stale_entry_save_gets_the_diff(
    course: Path, author_client: Client
) -> None:
    base = _newest("faq", "1")
    empty = _post(author_client, "faq_edit", {"question": "Q?", "answer": "  ", "base_number": base}, faq_order=1)
    assert empty.status_code == 422
    assert FaqEntry.objects.get(order=1).question == "Is it free?"
    assert (
        _post(
            author_client, "faq_edit", {"question": "A?", "answer": "A", "base_number": base}, faq_order=1
        ).status_code
        == 302
    )
    stale = _post(author_client, "faq_edit", {"question": "B?", "answer": "B", "base_number": base}, faq_order=1)
    assert stale.status_code == 409
    assert "diff__table" in stale.content.decode()
    assert FaqEntry.objects.get(order=1).question == "A?"


def test_an_untouched_save_keeps_the_stored_text_and_makes_no_new_revision(course: Path, author_client: Client) -> None:
    base = _newest("faq", "1")
    edit = {"question": "Is it free?", "answer": "Yes, **free**.\r\n", "base_number": base}
    assert _post(author_client, "faq_edit", edit, faq_order=1).status_code == 302
    assert FaqEntry.objects.get(order=1).answer_source == "Yes, **free**.\n"
    assert _newest("faq", "1") == base


def test_missing_items_answer_404(course: Path, author_client: Client) -> None:
    assert author_client.get(reverse("studio:node_edit", kwargs={"node_slug": "nope"})).status_code == 404
    assert author_client.get(reverse("studio:term_edit", kwargs={"term_slug": "nope"})).status_code == 404
    assert author_client.get(reverse("studio:faq_edit", kwargs={"faq_order": 9})).status_code == 404
