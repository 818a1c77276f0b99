"""Every page type fits a desktop and a phone and passes axe-core, for one learner with real data.

One learner's state is built with the ORM and the services (a churn dataset, an experiment
with finished runs, a first-model job, quiz and interview attempts), then each page is
checked as a subtest named for the page: at 1366×768 every chart fits inside its card, at
390×844 nothing scrolls sideways, and axe reports no serious or critical violation.
"""

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.http import QueryDict
from django.urls import reverse
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lessons import attempts
from lessons.models import Lesson, Node, Question
from lessons.services import content_sync
from sandbox.datasets import services as dataset_services
from sandbox.jobs import services as job_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.ml import training
from sandbox.tracking import services as tracking
from sandbox.tracking.models import Run
from tests.browser.test_first_job import SCREENSHOTS

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
"""The `learner` fixture's password."""
SERIOUS = {"serious", "critical"}
SMALL_CHURN = {"rows": 400, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}
LESSON_WITH_CODE = ("problem-framing", "what-is-mlops")

# Every chart, its card and, where the plot has drawn, its widest SVG layer.
CHART_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const card = plot.closest('.card');
  const svgs = [...plot.querySelectorAll('svg.main-svg')].map(s => s.getBoundingClientRect().width);
  const box = plot.getBoundingClientRect();
  const cardBox = card ? card.getBoundingClientRect() : null;
  return {id: plot.id, left: box.left, right: box.right, width: box.width, svg: Math.max(0, ...svgs),
          card: cardBox && {left: cardBox.left, right: cardBox.right, width: cardBox.width}};
})"""
# The outermost elements that stick out past the right edge of the window, to name in a failure.
TOO_WIDE = """() => [...document.body.querySelectorAll('*')].filter(e => {
  const sticksOut = el => el.getBoundingClientRect().right > window.innerWidth + 0.5;
  return sticksOut(e) && !(e.parentElement && e.parentElement !== document.body && sticksOut(e.parentElement));
}).slice(0, 5).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} ` +
  `(right edge ${Math.round(e.getBoundingClientRect().right)} px)`)"""
CHARTS_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')]
  .every(plot => plot.classList.contains('js-plotly-plot') && plot.querySelector('svg.main-svg'))"""


@dataclass
class Site:
    url: str
    pages: dict[str, str]
    learner: User


def _train(experiment: object, version: object, algorithm: str, **params: object) -> Run:
    config = tracking.RunConfig(algorithm, params, training.Preparation(), training.Split(), 42)
    run = tracking.run_create(experiment=experiment, version=version, config=config)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def _answer_first_graded(attempt: object) -> None:
    for question in Question.objects.filter(pk__in=attempt.question_ids, kind=Question.Kind.SINGLE):
        attempts.answer_submit(attempt=attempt, question=question, data=QueryDict("choice=0"))
        return
    raise AssertionError("The course has no single-choice question to answer.")


def _sandbox_pages(learner: User) -> dict[str, str]:
    """A churn dataset, an experiment with three finished runs and a finished first-model job; their pages."""
    churn = dataset_services.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)
    version = churn.versions.get()
    experiment = tracking.experiment_create(owner=learner, name="churn baseline", dataset=churn)
    runs = [
        _train(experiment, version, "logistic_regression", C=0.5),
        _train(experiment, version, "random_forest", n_estimators=20, max_depth=5),
        _train(experiment, version, "decision_tree", max_depth=4),
    ]
    job = job_services.job_create(owner=learner, kind=FIRST_MODEL, params={"epochs": 10, "seed": 0})
    compare = reverse("sandbox:compare", args=[experiment.pk]) + "?" + "&".join(f"runs={r.pk}" for r in runs)
    return {
        "sandbox home": reverse("sandbox:home"),
        "job": reverse("sandbox:job", args=[job.pk]),
        "datasets": reverse("sandbox:datasets"),
        "dataset": reverse("sandbox:dataset", args=[churn.pk]),
        "dataset profile": reverse("sandbox:dataset_version", args=[churn.pk, version.number]),
        "experiments": reverse("sandbox:experiments"),
        "experiment": reverse("sandbox:experiment", args=[experiment.pk]),
        "run": reverse("sandbox:run", args=[runs[1].pk]),
        "compare": compare,
    }


def _course_pages(learner: User) -> dict[str, str]:
    """The real course, a node quiz in progress and one finished interview session; the course's pages."""
    content_sync()
    first, locked = Node.objects.order_by("order")[:2]
    lesson = Lesson.objects.get(node__slug=LESSON_WITH_CODE[0], slug=LESSON_WITH_CODE[1])
    node_quiz = attempts.attempt_start_node(user=learner, node=first)
    interview = attempts.attempt_start_interview(user=learner, stages=[first], minutes=attempts.INTERVIEW_MINUTES[0])
    _answer_first_graded(interview)
    attempts.attempt_finish(attempt=interview)
    # An explain-it card from another stage: asking for its answer in this session is refused.
    outside = Question.objects.filter(kind=Question.Kind.EXPLAIN).exclude(pk__in=interview.question_ids).first()
    return {
        "home": reverse("home"),
        "map": reverse("lessons:map"),
        "node": reverse("lessons:node", args=[first.slug]),
        "locked node": reverse("lessons:node", args=[locked.slug]),
        "lesson": reverse("lessons:lesson", args=[lesson.node.slug, lesson.slug]),
        "quiz": reverse("lessons:quiz", args=[first.slug]),
        "quiz attempt": reverse("lessons:attempt", args=[node_quiz.pk]),
        "interview": reverse("lessons:interview"),
        "interview scorecard": reverse("lessons:attempt", args=[interview.pk]),
        "glossary": reverse("lessons:glossary"),
        "faq": reverse("lessons:faq"),
        "profile": reverse("lessons:profile"),
        "password change": reverse("password_change"),
        "course record": reverse("lessons:course_complete"),
        "status": reverse("status"),
        "not found": "/no/such/page/",
        "refused": reverse("lessons:reveal", args=[interview.pk, outside.pk]),
    }


@pytest.fixture
def sandbox_site(live_server: object, celery_eager: None, settings: object, tmp_path: Path, learner: User) -> Site:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Site(url=live_server.url, pages=_sandbox_pages(learner), learner=learner)


@pytest.fixture
def site(sandbox_site: Site) -> Site:
    sandbox_site.pages = {**_course_pages(sandbox_site.learner), **sandbox_site.pages}
    return sandbox_site


def _log_in(page: Page, site: Site) -> None:
    page.goto(site.url + reverse("login"))
    page.get_by_label("Username").fill(site.learner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".user-menu summary")).to_have_text(site.learner.username)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(CHARTS_DRAWN)
    # A chart drawn before the page was laid out is redrawn to its card's width a moment later; give it that
    # moment, then measure whatever it came to.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => ({CHART_BOXES})().every(c => c.card && Math.max(c.width, c.svg) <= c.card.width)", timeout=3000
        )


def _charts_outside_their_cards(page: Page) -> list[str]:
    problems = []
    for chart in page.evaluate(CHART_BOXES):
        card = chart["card"]
        if card is None:
            problems.append(f"chart {chart['id']} is not in a card")
            continue
        widest = max(chart["width"], chart["svg"])
        if widest > card["width"] + 0.5 or chart["left"] < card["left"] - 0.5 or chart["right"] > card["right"] + 0.5:
            problems.append(
                f"chart {chart['id']} is {widest:.0f}px wide (from {chart['left']:.0f} to {chart['right']:.0f}) "
                f"in a card {card['width']:.0f}px wide (from {card['left']:.0f} to {card['right']:.0f})"
            )
    return problems


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def _repeated_ids(page: Page) -> list[str]:
    return page.evaluate("""() => {
      const seen = new Map();
      document.querySelectorAll('[id]').forEach(e => seen.set(e.id, (seen.get(e.id) || 0) + 1));
      return [...seen].filter(([, count]) => count > 1).map(([id]) => id);
    }""")


# Every Content-Security-Policy violation on the page, from the moment it starts loading.
RECORD_CSP_VIOLATIONS = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline code'} at ${e.sourceFile}:${e.lineNumber}`));"""


def _check(page: Page, url: str, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    _open(page, url)
    violated = page.evaluate("window.__cspViolations")
    assert not violated, f"{name} breaks its Content-Security-Policy: {violated}"
    outside = _charts_outside_their_cards(page)
    assert not outside, f"{name} at 1366 px: " + "; ".join(outside)
    violations = _serious_violations(page)
    assert not violations, f"{name}: axe found\n" + "\n".join(violations)
    repeated = _repeated_ids(page)
    assert not repeated, f"{name} repeats the ids {repeated}"

    page.set_viewport_size(PHONE)
    _open(page, url)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (
        f"{name} at 390 px scrolls sideways: {widths[0]} px of content in {widths[1]} px; "
        f"sticking out: {page.evaluate(TOO_WIDE)}"
    )


SIGNED_OUT = {"home (signed out)": "home", "signup": "signup", "login": "login"}


def test_every_page_fits_a_desktop_and_a_phone_and_passes_axe(page: Page, site: Site, subtests: object) -> None:
    # One learner's state serves every page (building it takes seconds), so each page is a subtest named for it.
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    for name, url_name in SIGNED_OUT.items():
        with subtests.test(msg=name):
            _check(page, site.url + reverse(url_name), name)
    _log_in(page, site)
    for name, path in site.pages.items():
        with subtests.test(msg=name):
            _check(page, site.url + path, name)
    with subtests.test(msg="interview history with one session"):
        page.set_viewport_size(DESKTOP)
        _open(page, site.url + site.pages["interview"])
        ticks = page.locator("#history-heading ~ .chart .xtick text").all_text_contents()
        assert len(ticks) == 1, ticks
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d\d:\d\d", ticks[0]), ticks
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "layout-interview-1366.png", full_page=True)
    with subtests.test(msg="lesson in dark mode"):
        page.emulate_media(color_scheme="dark")
        page.set_viewport_size(DESKTOP)
        _open(page, site.url + site.pages["lesson"])
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        violations = _serious_violations(page)
        assert not violations, "lesson in dark mode: axe found\n" + "\n".join(violations)


def test_the_menu_button_opens_and_closes_the_navigation_on_a_phone(page: Page, sandbox_site: Site) -> None:
    site = sandbox_site
    _log_in(page, site)
    page.set_viewport_size(PHONE)
    page.goto(site.url + site.pages["sandbox home"])
    menu = page.get_by_role("button", name="Menu")
    sandbox = page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sandbox).to_be_hidden()
    assert not _serious_violations(page)

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sandbox).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "layout-menu-390.png")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    violations = _serious_violations(page)
    assert not violations, "open menu: axe found\n" + "\n".join(violations)

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sandbox).to_be_hidden()
    menu.click()
    page.keyboard.press("Escape")
    expect(sandbox).to_be_hidden()
    expect(menu).to_be_focused()

    page.set_viewport_size(DESKTOP)
    expect(menu).to_be_hidden()
    expect(sandbox).to_be_visible()


def test_without_javascript_the_navigation_links_stay_in_view_on_a_phone(browser: object, live_server: object) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + reverse("home"))
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Glossary")).to_be_visible()
    expect(page.locator(".nav__toggle")).to_be_hidden()
    context.close()


def _modebar_overlaps(page: Page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
      const bar = plot.querySelector('.modebar');
      const title = plot.querySelector('.gtitle');
      if (!bar || !title) return [];
      const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
      const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
      return apart ? [] : [`${title.textContent}: toolbar ${Math.round(a.left)}–${Math.round(a.right)} x ` +
        `${Math.round(a.top)}–${Math.round(a.bottom)}, title ${Math.round(b.left)}–${Math.round(b.right)} x ` +
        `${Math.round(b.top)}–${Math.round(b.bottom)}`];
    })""")


def test_the_chart_toolbar_never_covers_a_title_on_the_run_page(page: Page, sandbox_site: Site) -> None:
    site = sandbox_site
    _log_in(page, site)
    SCREENSHOTS.mkdir(exist_ok=True)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        _open(page, site.url + site.pages["run"])
        plots = page.locator(".js-plotly-plot")
        assert plots.count() >= 2
        for index in range(plots.count()):
            plots.nth(index).hover()
            expect(plots.nth(index).locator(".modebar")).to_be_visible()
        assert page.locator(".gtitle").count() == plots.count()
        overlaps = _modebar_overlaps(page)
        assert not overlaps, f"at {viewport['width']} px: " + "; ".join(overlaps)
        # For a person to look at: the run and dataset-profile pages at this width.
        page.screenshot(path=SCREENSHOTS / f"layout-run-{viewport['width']}.png", full_page=True)
        _open(page, site.url + site.pages["dataset profile"])
        page.screenshot(path=SCREENSHOTS / f"layout-profile-{viewport['width']}.png", full_page=True)


def test_a_chart_follows_its_card_when_the_card_narrows_and_after_an_htmx_swap(page: Page, sandbox_site: Site) -> None:
    site = sandbox_site
    _log_in(page, site)
    page.set_viewport_size(DESKTOP)
    _open(page, site.url + site.pages["run"])
    # Only the card changes width, not the window: a resize listener on the window would miss it.
    page.evaluate("document.querySelector('.js-plotly-plot').closest('.card').style.width = '300px'")
    page.wait_for_function(f"() => ({CHART_BOXES})()[0].svg <= 300", timeout=5000)

    page.evaluate("htmx.ajax('GET', location.pathname, {target: '#run-body', swap: 'outerHTML'})")
    page.wait_for_function(CHARTS_DRAWN)
    page.wait_for_function(
        "document.querySelector('#run-body .js-plotly-plot') && !document.querySelector('.card[style]')"
    )
    page.evaluate("document.querySelector('#run-body .js-plotly-plot').closest('.card').style.width = '260px'")
    page.wait_for_function(f"() => ({CHART_BOXES})()[0].svg <= 260", timeout=5000)
    assert not _charts_outside_their_cards(page)
