"""Issue 14's whole path in a browser, and its abuse case.

Learner A asks a question on a stage page with a run attached; learner B sees it and answers; A is notified and
accepts the answer. A discussion prompt hides the peers' answers until the learner has answered. An instructor
hides a reported post and it is gone for B. Then the payloads a learner could type (script, event handlers,
`javascript:` links, `hx-*` attributes) go into every field the community shows, and none runs."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from community import prompts, services
from community.models import DiscussionPrompt, Post, PromptAnswer
from community.snapshots import snapshot_take
from lessons.models import Node
from lessons.services import content_sync
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Run
from tests.browser.test_layout_and_accessibility import PASSWORD, RECORD_CSP_VIOLATIONS

pytestmark = pytest.mark.browser

STAGE = "problem-framing"
PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">',
    '<a href="javascript:window.__xss=4">link</a>',
    '<button hx-get="/accounts/logout/" hx-trigger="load">x</button>',
    "[click me](javascript:window.__xss=5)",
]
PAYLOAD = " ".join(PAYLOADS)
UNSAFE = (
    "img[src=x], svg[onload], a[href^=javascript], [hx-trigger=load], script:not([src]):not([type='application/json'])"
)


@pytest.fixture
def instructor(django_user_model: type, instructors: Group) -> User:
    user = django_user_model.objects.create_user(username="ines", password=PASSWORD)
    user.groups.add(instructors)
    return user


def _run(owner: User, name: str, settings: object, tmp_path: object) -> Run:
    settings.MEDIA_ROOT = tmp_path
    churn = {"rows": 200, "noise": 0.1, "churn_rate": 0.3, "missing_rate": 0, "seed": 1}
    dataset = dataset_services.dataset_create_churn(owner=owner, name="churn", settings=churn)
    experiment = Experiment.objects.create(owner=owner, name="first tries", dataset=dataset)
    return Run.objects.create(
        experiment=experiment, owner=owner, dataset_version=dataset.versions.get(), name=name,
        algorithm="logistic_regression", params={"C": 1.0, "max_iter": 200}, seed=1, status=Run.Status.SUCCEEDED,
        preparation=training.Preparation().as_dict(), metrics={"val_f1": 0.8123},
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0}, finished_at=timezone.now(),
        charts={"roc": {"fpr": [0.0, 0.1, 0.4, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0]}},
    )  # fmt: skip


def _signed_in(browser: Browser, url: str, username: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(url + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".user-menu summary")).to_have_text(username)
    return context, page


def test_a_learner_asks_a_peer_answers_a_prompt_waits_and_a_moderator_hides(
    live_server: object, browser: Browser, learner: User, other_learner: User, instructor: User, settings: object,
    tmp_path: object,
) -> None:  # fmt: skip
    content_sync()
    url = live_server.url
    _run(learner, "baseline", settings, tmp_path)

    # A asks on the stage page, with the run attached.
    a_context, a = _signed_in(browser, url, learner.username)
    a.goto(url + reverse("lessons:node", args=[STAGE]))
    a.get_by_role("link", name="Ask about this stage").click()
    a.get_by_label("Title").fill("Why is my validation F1 so much lower than my training F1?")
    a.get_by_label("Details").fill("My run is attached. I used **logistic regression** with `C=1.0`.")
    a.get_by_label(re.compile("baseline")).check()
    a.get_by_role("button", name="Post your question").click()
    expect(a.get_by_role("heading", level=1)).to_have_text(re.compile("validation F1"))
    expect(a.locator(".snapshot").first).to_contain_text("baseline")
    question = Post.objects.get(kind=Post.Kind.QUESTION)
    assert question.node.slug == STAGE
    assert question.snapshots.count() == 1

    # B finds it on the stage page and answers.
    b_context, b = _signed_in(browser, url, other_learner.username)
    b.goto(url + reverse("lessons:node", args=[STAGE]))
    b.get_by_role("link", name=re.compile("validation F1")).click()
    expect(b.locator(".snapshot").first).to_contain_text("logistic_regression")
    b.get_by_label("Write your answer (Markdown)").fill("That gap is **overfitting**: try a smaller `C`.")
    b.get_by_role("button", name="Post your answer").click()
    expect(b.locator(".qa-answer").first).to_contain_text("overfitting")

    # A is told, and accepts it.
    a.goto(url + reverse("community:question_list"))
    notifications = a.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("Notifications"))
    expect(notifications).to_contain_text("(1")
    notifications.click()
    a.get_by_role("link", name=re.compile("validation F1")).first.click()
    a.locator(".qa-answer").first.get_by_role("button", name="Accept").click()
    expect(a.locator(".qa-answer--accepted")).to_contain_text("overfitting")
    question.refresh_from_db()
    assert question.accepted_answer.author == other_learner

    # A discussion prompt: B sees nothing of A's answer until B has written one.
    prompt = DiscussionPrompt.objects.filter(lesson__node__slug=STAGE, order__gt=0).select_related("lesson").first()
    PromptAnswer.objects.create(
        prompt=prompt, author=learner, body="Monitoring is what the workflow lacks.",
        body_html="<p>Monitoring is what the workflow lacks.</p>",
    )  # fmt: skip
    b.goto(url + prompt.lesson.get_absolute_url())
    card = b.locator(f"#prompt-card-{prompt.pk}")
    expect(card).to_contain_text("appear once you have written yours")
    assert "Monitoring is what the workflow lacks." not in b.content()
    card.get_by_role("textbox").fill("Nobody owns retraining in this workflow.")
    card.get_by_role("button", name="Share my answer").click()
    expect(b.locator(f"#prompt-card-{prompt.pk}")).to_contain_text("Monitoring is what the workflow lacks.")

    # A posts a rude comment; B reports it; an instructor hides it; it is gone for B.
    comment = services.comment_post(author=learner, parent=question.accepted_answer, body="You are all clueless.")
    b.goto(url + reverse("community:question", args=[question.pk]))
    b.locator(f"#post-{comment.pk}").get_by_role("link", name="Report").click()
    b.get_by_label("Why should a moderator look at it?").select_option("rude")
    b.locator(f"#post-{comment.pk}").get_by_role("button", name="Report").click()
    expect(b.get_by_text(re.compile("moderator", re.I)).first).to_be_visible()
    m_context, m = _signed_in(browser, url, instructor.username)
    m.goto(url + reverse("community:moderation"))
    item = m.locator(".mod-item", has_text="You are all clueless.")
    item.get_by_label("Reason, told to the author").fill("Please keep it kind.")
    item.get_by_role("button", name="Hide").click()
    expect(m.locator(".mod-item", has_text="You are all clueless.")).to_have_count(0)
    b.reload()
    expect(b.get_by_text("You are all clueless.")).to_have_count(0)
    a.goto(url + reverse("community:notifications"))
    expect(a.get_by_text("Please keep it kind.")).to_be_visible()
    for context in (a_context, b_context, m_context):
        context.close()


def test_nothing_a_learner_types_into_the_community_runs(
    live_server: object, browser: Browser, learner: User, other_learner: User, settings: object, tmp_path: object
) -> None:
    content_sync()
    run = _run(learner, PAYLOADS[0], settings, tmp_path)
    run.tags = {PAYLOADS[1][:50]: PAYLOADS[2]}
    run.save(update_fields=["tags"])
    snapshot = snapshot_take(user=learner, ref=f"run:{run.pk}")
    assert PAYLOADS[0] in snapshot.title + str(snapshot.data)
    question = services.question_ask(
        author=learner, title=PAYLOAD[:190], body=PAYLOAD + "\n\nWhy does this happen to my run?",
        node=Node.objects.get(slug=STAGE), snapshots=[snapshot],
    )  # fmt: skip
    answer = services.answer_post(author=other_learner, question=question, body=PAYLOAD + " an answer with words")
    services.comment_post(author=learner, parent=answer, body=PAYLOAD + " a comment with words")
    prompt = DiscussionPrompt.objects.filter(order__gt=0).select_related("lesson").first()
    prompts.prompt_answer_save(prompt=prompt, author=other_learner, body=PAYLOAD + " my answer to the prompt")
    prompts.prompt_answer_save(prompt=prompt, author=learner, body="I answered, so I read my peers.")

    context, page = _signed_in(browser, live_server.url, learner.username)
    paths = [
        reverse("community:question_list"),
        reverse("community:question_list") + "?q=happen",
        reverse("community:question", args=[question.pk]),
        reverse("lessons:node", args=[STAGE]),
        reverse("community:notifications"),
        prompt.lesson.get_absolute_url(),
    ]
    for path in paths:
        page.goto(live_server.url + path)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None, path
        assert page.evaluate("window.__cspViolations") == [], path
        assert page.locator(UNSAFE).count() == 0, path
    assert page.get_by_text("window.__xss", exact=False).count() > 0, "the typed text is shown as text"
    context.close()
