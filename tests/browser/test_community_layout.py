"""Every community page type fits a desktop and a phone and passes axe-core, with real content: a thread with an
accepted answer, comments and a shared run, notifications, a stage page with its questions and who is here, a
lesson's discussion prompt before and after answering, and the moderator's pages."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Browser

from cohorts.models import CohortMembership
from cohorts.services import cohort_create
from community import moderation, prompts, services
from community.models import DiscussionPrompt
from community.snapshots import snapshot_take
from lessons.models import Node
from lessons.services import content_sync
from tests.browser.test_community import _run, _signed_in
from tests.browser.test_layout_and_accessibility import PASSWORD, _check

pytestmark = pytest.mark.browser


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="ines", password=PASSWORD)
    user.groups.add(instructors)
    return user


def test_every_community_page_fits_a_desktop_and_a_phone_and_passes_axe(
    live_server: object, browser: Browser, learner: User, other_learner: User, instructor: User, settings: object,
    tmp_path: object, subtests: object,
) -> None:  # fmt: skip
    content_sync()
    stage = Node.objects.order_by("order").first()
    run = _run(learner, "baseline", settings, tmp_path)
    shared = snapshot_take(user=learner, ref=f"run:{run.pk}")
    question = services.question_ask(
        author=learner, title="Why is validation F1 lower than training F1?", node=stage,
        body="My run is attached.\n\n```python\nmodel.fit(X, y)\n```", snapshots=[shared],
    )  # fmt: skip
    answer = services.answer_post(author=other_learner, question=question, body="That gap is **overfitting**.")
    services.comment_post(author=learner, parent=answer, body="Thanks, a smaller C helped.")
    services.answer_accept(user=learner, answer=answer)
    rude = services.comment_post(author=other_learner, parent=question, body="Read the docs, obviously.")
    moderation.report_create(post=rude, reporter=learner, reason="rude")
    prompt = DiscussionPrompt.objects.filter(lesson__node=stage, order__gt=0).select_related("lesson").first()
    prompts.prompt_answer_save(prompt=prompt, author=other_learner, body="Nobody owns retraining here.")
    cohort = cohort_create(instructor=instructor, name="Autumn class")
    CohortMembership.objects.create(cohort=cohort, learner=other_learner)

    learner_pages = {
        "questions": reverse("community:question_list"),
        "stage questions": reverse("community:question_list") + f"?node={stage.slug}&sort=votes",
        "search": reverse("community:question_list") + "?q=overfitting",
        "ask": reverse("community:question_ask") + f"?node={stage.slug}",
        "question": reverse("community:question", args=[question.pk]),
        "edit a post": reverse("community:post_edit", args=[question.pk]),
        "notifications": reverse("community:notifications"),
        "community settings": reverse("community:settings"),
        "stage with questions": reverse("lessons:node", args=[stage.slug]),
        "lesson with a prompt, unanswered": prompt.lesson.get_absolute_url(),
    }
    context, page = _signed_in(browser, live_server.url, learner.username)
    for name, path in learner_pages.items():
        with subtests.test(msg=name):
            _check(page, live_server.url + path, name)
    prompts.prompt_answer_save(prompt=prompt, author=learner, body="Monitoring is missing.")
    with subtests.test(msg="lesson with a prompt, answered"):
        _check(page, live_server.url + prompt.lesson.get_absolute_url(), "lesson with a prompt, answered")
    with subtests.test(msg="prompt page"):
        _check(page, live_server.url + reverse("community:prompt", args=[prompt.pk]), "prompt page")
    context.close()

    moderation.post_hide(post=rude, moderator=instructor, reason="Please keep it kind.")
    moderator_pages = {
        "earlier versions": reverse("community:post_history", args=[question.pk]),
        "moderation queue": reverse("community:moderation"),
        "question as a moderator": reverse("community:question", args=[question.pk]),
        "cohort's prompt answers": reverse("community:prompt_cohort_answers", args=[prompt.pk]),
    }
    context, page = _signed_in(browser, live_server.url, instructor.username)
    for name, path in moderator_pages.items():
        with subtests.test(msg=name):
            _check(page, live_server.url + path, name)
    context.close()
