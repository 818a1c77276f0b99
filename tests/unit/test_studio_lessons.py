"""The studio's lesson editor: who may use it, saving with revisions, refusals by line, stale saves, the live
preview (the lesson page's renderer, nothing written), publishing, and the lesson as a learner sees it."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from lessons.models import Lesson, LessonRead, NodeProgress
from studio import item_data, items
from studio.lesson_preview import body_offset, lesson_preview
from studio.models import Revision
from studio.revisions import latest_revision

pytestmark = pytest.mark.django_db

KEY = "first/intro"
EDIT = reverse("studio:lesson_edit", kwargs={"node_slug": "first", "lesson_slug": "intro"})
PREVIEW = reverse("studio:lesson_preview")


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user("teacher")
    user.groups.add(instructors)
    return user


@pytest.fixture
def author(instructor: User, course: Path) -> Client:
    client = Client()  # its own, beside learner_client's
    client.force_login(instructor)
    return client


def _lesson(slug: str = "intro", node: str = "first") -> Lesson:
    return Lesson.objects.select_related("node").get(node__slug=node, slug=slug)


def _data() -> dict:
    return items.TYPES["lesson"].from_row(_lesson())


def _base() -> int:
    revision = latest_revision(kind="lesson", key=KEY)
    return revision.number if revision else 0


def _edit(body: str, **fields: object) -> dict:
    data = _data()
    return {
        "title": data["title"],
        "order": data["order"],
        "body": body,
        "message": "",
        "base_number": _base(),
        **fields,
    }


def _urls() -> list[tuple[str, str]]:
    lesson = {"node_slug": "first", "lesson_slug": "intro"}
    return [
        ("get", reverse("studio:lesson_list")),
        ("get", reverse("studio:lesson_create")),
        ("post", reverse("studio:lesson_create")),
        ("post", PREVIEW),
        ("get", EDIT),
        ("post", EDIT),
        ("post", reverse("studio:lesson_publish", kwargs=lesson)),
        ("post", reverse("studio:lesson_unpublish", kwargs=lesson)),
        ("get", reverse("studio:lesson_learner_view", kwargs=lesson)),
    ]


# --- who may ----------------------------------------------------------------------------------


def test_a_learner_is_refused_every_lesson_page_and_fragment(learner_client: Client, course: Path) -> None:
    before = (Revision.objects.count(), list(Lesson.objects.values_list("title", "status", "source")))
    for method, url in _urls():
        response = getattr(learner_client, method)(url, {"body": "x", "base_number": 1}, HTTP_HX_REQUEST="true")
        assert response.status_code == 403, (method, url)
    assert (Revision.objects.count(), list(Lesson.objects.values_list("title", "status", "source"))) == before


def test_anyone_signed_out_is_sent_to_sign_in(client: Client, course: Path) -> None:
    for method, url in _urls():
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("login")), (method, url)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_each_lesson_by_stage_with_status_newest_revision_and_links(author: Client) -> None:
    Lesson.objects.filter(node__slug="second").update(status=Lesson.Status.DRAFT)
    page = author.get(reverse("studio:lesson_list")).content.decode()
    assert "<h1>Lessons</h1>" in page
    assert page.index("The first node") < page.index("first intro") < page.index("The second node")
    assert page.index("The second node") < page.index("second intro")
    assert page.count('status-badge--published">Published') == 1
    assert page.count('status-badge--draft">Draft') == 1
    assert f"Revision {_base()} by" in page
    assert EDIT in page
    assert reverse("studio:lesson_learner_view", kwargs={"node_slug": "second", "lesson_slug": "intro"}) in page
    assert reverse("studio:lesson_create") in page


# --- creating and saving ----------------------------------------------------------------------


def test_creating_a_lesson_makes_a_draft_with_a_revision_by_its_author(author: Client, instructor: User) -> None:
    form = author.get(reverse("studio:lesson_create") + "?node=second").content.decode()
    assert re.search(r'<option value="second" selected>', form)
    body = "A card per model.\r\n\r\nSee [the intro](lesson:first/intro).\r\n"
    posted = {"node": "second", "slug": "model-cards", "title": "Model cards", "order": 2, "body": body}
    posted["message"] = "New lesson"
    response = author.post(reverse("studio:lesson_create"), posted)
    assert response.status_code == 302
    assert response["Location"] == reverse("studio:lesson_edit", args=["second", "model-cards"])
    lesson = _lesson("model-cards", "second")
    assert (lesson.title, lesson.order, lesson.status) == ("Model cards", 2, "draft")
    assert lesson.source == "A card per model.\n\nSee [the intro](lesson:first/intro).\n"
    revision = latest_revision(kind="lesson", key="second/model-cards")
    assert (revision.number, revision.author, revision.message) == (1, instructor, "New lesson")


def test_a_slug_taken_is_a_form_error_and_nothing_is_saved(author: Client) -> None:
    before = Revision.objects.count()
    posted = {"node": "first", "slug": "intro", "title": "Again", "order": 5, "body": "Other text.", "message": ""}
    response = author.post(reverse("studio:lesson_create"), posted)
    assert response.status_code == 409
    assert "already a lesson named &#x27;first/intro&#x27;" in response.content.decode()
    assert Revision.objects.count() == before
    assert _lesson().title == "first intro"


def test_saving_an_edit_keeps_a_revision_with_author_and_message_and_keeps_the_status(
    author: Client, instructor: User
) -> None:
    before = _base()
    response = author.post(EDIT, _edit("New body, about data drift.\n", title="Intro, again", message="Shorter"))
    assert response.status_code == 302
    revision = latest_revision(kind="lesson", key=KEY)
    assert (revision.number, revision.author, revision.message) == (before + 1, instructor, "Shorter")
    lesson = _lesson()
    assert (lesson.title, lesson.source) == ("Intro, again", "New body, about data drift.\n")
    assert lesson.status == "published"
    assert "Saved “Intro, again” as revision" in author.get(EDIT).content.decode()


def test_an_edit_without_a_message_says_what_it_changed(author: Client) -> None:
    author.post(EDIT, _edit(_data()["body"], order=7))
    assert latest_revision(kind="lesson", key=KEY).message == "Changed the order"


# --- refused by line --------------------------------------------------------------------------


def _refused(author: Client, posted: dict) -> str:
    before = (_base(), _lesson().source, _lesson().title)
    response = author.post(EDIT, posted)
    assert response.status_code == 422
    assert (_base(), _lesson().source, _lesson().title) == before
    return response.content.decode()


def test_a_front_matter_problem_is_refused_with_its_line_beside_its_field(author: Client) -> None:
    page = _refused(author, _edit(_data()["body"], title="  "))
    line = item_data.lesson_text({**_data(), "title": ""}).splitlines().index("title: ''") + 1
    assert f"line {line}: &#x27;title&#x27; must not be empty" in page
    assert f'href="#id_title">line {line}:</a>' in page


@pytest.mark.parametrize(
    ("link", "target"),
    [("[gone](lesson:first/nowhere)", "lesson:first/nowhere"), ("[term](glossary:no-such)", "glossary:no-such")],
)
def test_a_broken_link_is_refused_with_the_line_the_editor_numbers_it(author: Client, link: str, target: str) -> None:
    body = f"First paragraph.\n\nSecond, with {link}.\n"
    page = _refused(author, _edit(body))
    line = body_offset(_data()) + 3
    assert item_data.lesson_text({**_data(), "body": body}).splitlines()[line - 1] == f"Second, with {link}."
    assert f'data-line="{line}">line {line}:</a> link to &#x27;{target}&#x27;, which does not exist' in page
    # The gutter beside the textarea numbers the body from the same line, and marks that one.
    gutter = re.search(r'id="body-gutter"[^>]*>(.*?)</div>', page).group(1)
    numbers = re.findall(r"<span(?: class=\"(is-problem)\")?>(\d+)</span>", gutter)
    assert [int(n) for _, n in numbers] == [body_offset(_data()) + i for i in (1, 2, 3, 4)]
    assert [int(n) for mark, n in numbers if mark] == [line]
    assert "First paragraph.\n\nSecond, with" in page  # the edit is kept in the textarea


# --- stale saves ------------------------------------------------------------------------------


def test_a_stale_save_is_refused_with_the_diff_and_keeps_the_edit(
    author: Client, instructor: User, django_user_model: type
) -> None:
    began = _base()
    other = django_user_model.objects.create_user("colleague")
    other.groups.add(Group.objects.get(name="Instructors"))
    colleague = Client()
    colleague.force_login(other)
    assert colleague.post(EDIT, _edit("Their version of the body.\n", base_number=began)).status_code == 302
    mine = _edit("My version of the body.\n", base_number=began, message="Mine")
    response = author.post(EDIT, mine)
    page = response.content.decode()
    assert response.status_code == 409
    assert f"Revision {began + 1} by colleague" in page
    assert "Your edit" in page
    assert 'class="diff"' in page
    assert "\nMy version of the body.\n</textarea>" in page
    assert f'name="base_number" value="{began + 1}"' in page
    assert _lesson().source == "Their version of the body.\n"
    # Saving again, knowingly, from the newer revision keeps both in the history.
    assert author.post(EDIT, {**mine, "base_number": began + 1}).status_code == 302
    texts = list(Revision.objects.filter(kind="lesson", key=KEY).order_by("number").values_list("data", flat=True))
    assert [data["body"] for data in texts[-2:]] == ["Their version of the body.\n", "My version of the body.\n"]


# --- the live preview -------------------------------------------------------------------------


def _preview(author: Client, body: str, **fields: object) -> str:
    posted = {"node": "first", "slug": "intro", "title": "first intro", "order": 1, "body": body, **fields}
    response = author.post(PREVIEW, posted, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_the_preview_is_sanitized_counts_words_and_writes_nothing(author: Client) -> None:
    before = (Revision.objects.count(), _lesson().source, _lesson().html)
    fragment = _preview(author, "Hello **world** <script>alert(1)</script> [x](javascript:alert(2)).\n\nTwo more.")
    assert "<strong>world</strong>" in fragment
    assert "<script" not in fragment
    assert 'href="javascript' not in fragment
    assert "<html" not in fragment
    words = lesson_preview({**_data(), "body": "Hello **world** <script>alert(1)</script>.\n"}).word_count
    assert words > 0
    assert re.search(r"\d+ words · 1 min read · no problems", fragment)
    assert (Revision.objects.count(), _lesson().source, _lesson().html) == before


def test_the_word_count_and_reading_time_are_the_lesson_pages(author: Client) -> None:
    fragment = _preview(author, " ".join(["word"] * 450) + "\n")
    assert "450 words · 2 min read" in fragment


def test_the_preview_is_what_the_lesson_page_shows_after_saving(author: Client) -> None:
    body = "About data drift, see [the second](node:second) and [drift](glossary:data-drift).\n\n## Part\n\nText.\n"
    html = lesson_preview({**_data(), "body": body}).html
    assert html in _preview(author, body)
    assert author.post(EDIT, _edit(body)).status_code == 302
    assert _lesson().html == html
    page = author.get(reverse("lessons:lesson", args=["first", "intro"])).content.decode()
    assert html in page


def test_the_preview_finds_what_check_finds_by_the_same_lines(author: Client) -> None:
    cases = [
        {"body": "See [gone](lesson:first/nowhere)\nand [t](glossary:nope).\n"},
        {"title": "", "body": "Fine.\n"},
        {"slug": "Bad Slug", "body": "Fine.\n"},
        {"title": "A very long title " * 12, "body": "Line.\n\n[x](node:missing)\n"},
        {"body": "Links to itself: [me](lesson:first/intro).\n"},
    ]
    for case in cases:
        data = {**_data(), **case}
        expected = [(p.line, p.message) for p in items.check("lesson", data)]
        assert [(p.line, p.message) for p in lesson_preview(data).problems] == expected, case
        assert expected or case["body"].startswith("Links to itself")
    fragment = _preview(author, "Fine.\n", title="")
    assert "line 3:</a> &#x27;title&#x27; must not be empty" in fragment


def test_the_editor_page_has_a_preview_that_follows_typing(author: Client) -> None:
    page = author.get(EDIT).content.decode()
    assert f'hx-post="{PREVIEW}"' in page
    assert 'hx-trigger="input delay:300ms"' in page
    assert 'name="base_number"' in page
    assert 'name="message"' in page
    assert _lesson().html in page
    assert "<h1>" in page
    assert reverse("studio:history", kwargs={"kind": "lesson", "key": KEY}) in page


def test_the_preview_button_works_without_javascript_and_saves_nothing(author: Client) -> None:
    before = _base()
    response = author.post(EDIT, {**_edit("Previewed **only**.\n"), "preview": "1"})
    assert response.status_code == 200
    assert "<strong>only</strong>" in response.content.decode()
    assert _base() == before
    assert "Previewed" not in _lesson().source


# --- draft and published ----------------------------------------------------------------------


def test_unpublish_and_publish_are_revisions_and_learners_never_see_a_draft(
    author: Client, learner_client: Client
) -> None:
    lesson = {"node_slug": "first", "lesson_slug": "intro"}
    learner_page = reverse("lessons:lesson", args=["first", "intro"])
    assert learner_client.get(learner_page).status_code == 200
    response = author.post(reverse("studio:lesson_unpublish", kwargs=lesson), {"base_number": _base()})
    assert response.status_code == 302
    assert (_lesson().status, latest_revision(kind="lesson", key=KEY).message) == ("draft", "Unpublished")
    assert learner_client.get(learner_page).status_code == 404
    assert learner_page not in learner_client.get(reverse("lessons:node", args=["first"])).content.decode()
    assert author.get(learner_page).status_code == 200  # an author previews drafts on the site too
    response = author.post(reverse("studio:lesson_publish", kwargs=lesson), {"base_number": _base()})
    assert response.status_code == 302
    assert (_lesson().status, latest_revision(kind="lesson", key=KEY).message) == ("published", "Published")
    assert learner_client.get(learner_page).status_code == 200


def test_publishing_from_a_stale_page_is_refused(author: Client) -> None:
    lesson = {"node_slug": "first", "lesson_slug": "intro"}
    stale = _base()
    author.post(EDIT, _edit("Newer.\n"))
    response = author.post(reverse("studio:lesson_unpublish", kwargs=lesson), {"base_number": stale})
    assert response.status_code == 409
    assert _lesson().status == "published"


def test_saving_a_draft_keeps_it_a_draft(author: Client) -> None:
    Lesson.objects.filter(pk=_lesson().pk).update(status=Lesson.Status.DRAFT)
    author.post(reverse("studio:lesson_create"), {})  # a form error, nothing else
    assert author.post(EDIT, _edit("Still a draft.\n")).status_code == 302
    assert _lesson().status == "draft"


# --- as a learner sees it ---------------------------------------------------------------------


def test_view_as_learner_shows_a_draft_with_the_banner_and_records_nothing(author: Client, instructor: User) -> None:
    author.post(EDIT, _edit("Draft words, about data drift. See [next](node:second).\n"))
    author.post(reverse("studio:lesson_unpublish", args=["first", "intro"]), {"base_number": _base()})
    response = author.get(reverse("studio:lesson_learner_view", args=["first", "intro"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Preview as a learner sees it — draft, not visible to learners" in page
    assert "Draft words" in page
    assert '<h1 id="lesson-title">first intro</h1>' in page
    assert '<div class="learner-view">' in page  # whose mark-as-read studio-lessons.css hides
    assert "Locked: complete" in page  # the second stage waits for the first, for a learner reading the first
    assert not LessonRead.objects.filter(user=instructor).exists()
    assert not NodeProgress.objects.filter(user=instructor).exists()


def test_view_as_learner_of_a_published_lesson_says_so(author: Client) -> None:
    page = author.get(reverse("studio:lesson_learner_view", args=["second", "intro"])).content.decode()
    assert "published: learners read this" in page
    assert "Locked: complete" not in page


def test_the_pages_run_no_inline_script(author: Client) -> None:
    # The Content-Security-Policy allows scripts from the site's files only.
    for url in (EDIT, reverse("studio:lesson_create"), reverse("studio:lesson_list")):
        page = author.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url
    assert "/static/js/studio-lessons.js" in author.get(EDIT).content.decode()


def test_a_blank_new_lesson_shows_no_problems_until_typing_starts(author: Client) -> None:
    page = author.get(reverse("studio:lesson_create")).content.decode()
    assert "no problems" in page
    assert 'role="alert"' not in page
    fragment = _preview(author, "Text.\n", slug="", title="")
    assert "line 2:</a> &#x27;slug&#x27; must not be empty" in fragment
