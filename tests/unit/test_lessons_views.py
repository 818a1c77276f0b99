import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from lessons.models import Lesson, LessonRead, Node, NodeProgress

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
FIRST = reverse("lessons:lesson", args=["first", "intro"])
SECOND = reverse("lessons:lesson", args=["second", "intro"])


def test_a_logged_in_learner_lands_on_the_map(learner_client: object, course: object) -> None:
    response = learner_client.get(reverse("home"), follow=True)
    assert response.redirect_chain == [(reverse("lessons:map"), 302)]
    html = response.content.decode()
    assert "The first node" in html
    assert "0 of 2</strong> stages completed" in html


def test_the_map_shows_open_and_locked_nodes_with_the_reason(learner_client: object, course: object) -> None:
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert 'class="map-node map-node--open"' in html
    assert 'class="map-node map-node--locked"' in html
    assert "Complete “The first node” first." in html
    assert html.count("<line ") == 1


def test_a_completed_prerequisite_unlocks_its_dependant(learner_client: object, learner: User, course: object) -> None:
    NodeProgress.objects.create(user=learner, node=Node.objects.get(slug="first"), completed_at=timezone.now())
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert "map-node--completed" in html
    assert "map-node--locked" not in html
    assert learner_client.get(SECOND).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        reverse("lessons:node", args=["second"]),
        SECOND,
    ],
)
def test_a_locked_node_answers_403_with_the_reason_however_it_is_asked(
    learner_client: object, course: object, url: str
) -> None:
    for headers in ({}, HTMX):
        response = learner_client.get(url, **headers)
        assert response.status_code == 403
        assert "Complete “The first node” first." in response.content.decode()


def test_marking_a_locked_lesson_read_is_refused(learner_client: object, course: object) -> None:
    response = learner_client.post(reverse("lessons:lesson_read", args=["second", "intro"]), **HTMX)
    assert response.status_code == 403
    assert not LessonRead.objects.exists()


def test_the_lesson_page_has_breadcrumb_toc_glossary_and_read_button(learner_client: object, course: object) -> None:
    html = learner_client.get(FIRST).content.decode()
    assert 'aria-label="Breadcrumb"' in html
    assert '<a href="#a-section">A section</a>' in html
    assert 'data-term="data-drift"' in html
    assert '<script id="glossary-data" type="application/json">' in html
    assert "Inputs change." in html
    assert "Mark as read" in html


def test_marking_read_over_htmx_swaps_the_button_and_the_node_progress(
    learner_client: object, learner: User, course: object
) -> None:
    url = reverse("lessons:lesson_read", args=["first", "intro"])
    response = learner_client.post(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "You have read this lesson." in html
    assert 'id="node-progress" class="node-progress" hx-swap-oob="true"' in html
    assert "<strong>1 of 1</strong> lessons read" in html
    learner_client.post(url, **HTMX)
    assert LessonRead.objects.filter(user=learner).count() == 1
    assert NodeProgress.objects.get(user=learner).node.slug == "first"
    assert "map-node--in_progress" in learner_client.get(reverse("lessons:map")).content.decode()


def test_marking_read_without_javascript_redirects_back(learner_client: object, course: object) -> None:
    response = learner_client.post(reverse("lessons:lesson_read", args=["first", "intro"]))
    assert response.status_code == 302
    assert response.url == FIRST


def test_draft_lessons_are_hidden_from_learners_but_previewable_by_instructors(
    client: object, learner: User, course: object
) -> None:
    Lesson.objects.filter(node__slug="first").update(status=Lesson.Status.DRAFT)
    client.force_login(learner)
    assert client.get(FIRST).status_code == 404
    learner.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(User.objects.get(pk=learner.pk))
    assert client.get(FIRST).status_code == 200


def test_lessons_need_a_login(client: object, course: object) -> None:
    assert client.get(FIRST).status_code == 302


def test_the_glossary_filters_as_you_type_with_htmx(client: object, course: object) -> None:
    page = client.get(reverse("lessons:glossary")).content.decode()
    assert 'id="data-drift"' in page
    fragment = client.get(reverse("lessons:glossary"), {"q": "covariate"}, **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="term-list"')
    assert "Data drift" in fragment
    empty = client.get(reverse("lessons:glossary"), {"q": "blockchain"}, **HTMX).content.decode()
    assert "No term matches “blockchain”." in empty


def test_the_faq_page_renders_its_answers(client: object, course: object) -> None:
    html = client.get(reverse("lessons:faq")).content.decode()
    assert "Is it free?" in html
    assert "<strong>free</strong>" in html


def test_an_admin_edit_re_renders_the_lesson(admin_client: object, course: object) -> None:
    lesson = Lesson.objects.get(node__slug="first")
    response = admin_client.post(
        reverse("admin:lessons_lesson_change", args=[lesson.pk]),
        {
            "node": lesson.node.pk,
            "slug": lesson.slug,
            "title": lesson.title,
            "order": 1,
            "status": "published",
            "source": "## New heading\n\n<script>x</script> with covariate shift.",
        },
    )
    assert response.status_code == 302
    lesson.refresh_from_db()
    assert '<h2 id="new-heading">New heading</h2>' in lesson.html
    assert "<script>" not in lesson.html
    assert 'data-term="data-drift"' in lesson.html


def test_the_map_draws_no_line_for_a_prerequisite_another_one_already_requires(
    learner_client: object, course: object
) -> None:
    first, second = Node.objects.get(slug="first"), Node.objects.get(slug="second")
    third = Node.objects.create(slug="third", title="The third node", order=3)
    third.prerequisites.set([first, second])  # second already requires first
    html = learner_client.get(reverse("lessons:map")).content.decode()
    assert html.count("<line ") == 2  # first to second, second to third: none from first to third
    assert "The third node" in html
