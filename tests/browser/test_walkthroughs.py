"""A lesson's stepped code walkthroughs in a browser: Next, Previous and the arrow keys move through the steps
("3 / 7"), the current step's lines are highlighted and scrolled into view inside the code box (not the page), the
buttons stop at either end, and two walkthroughs on one page step on their own. Without JavaScript every step is
listed under the code. Both forms pass axe and do not scroll sideways on a phone, the stepper in both colour schemes."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Browser, Locator, Page, expect

from community import prompts
from community.models import DiscussionPrompt
from lessons.services import content_sync
from tests.browser.test_layout_and_accessibility import (
    DESKTOP,
    PASSWORD,
    PHONE,
    RECORD_CSP_VIOLATIONS,
    TOO_WIDE,
    _serious_violations,
)
from tests.content_tree import write_content_tree

pytestmark = pytest.mark.browser

TRAIN = '''\
"""Train the churn model and save it next to its metrics."""
import json
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_month_to_month", "paperless_billing"]


def load(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame.dropna(subset=FEATURES + ["churned"])


def train(frame: pd.DataFrame, seed: int = 0) -> tuple[LogisticRegression, float]:
    train_rows, test_rows = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["churned"])
    model = LogisticRegression(max_iter=1000)
    model.fit(train_rows[FEATURES], train_rows["churned"])
    scores = model.predict_proba(test_rows[FEATURES])[:, 1]
    return model, roc_auc_score(test_rows["churned"], scores)


if __name__ == "__main__":
    frame = load(Path("data/churn.csv"))
    model, auc = train(frame)
    Path("metrics.json").write_text(json.dumps({"roc_auc": round(auc, 4)}))
    print(f"ROC AUC on the held-out quarter: {auc:.3f}")
'''
PARAMS = "train:\n  seed: 0\n  test_size: 0.25\nfeatures:\n  - tenure_months\n  - monthly_charges\n"
STEPS = [
    ("1-3", "Lines 1–3", "**The docstring and the standard library.** What the script is for, then `json` and `Path`."),
    ("5-8", "Lines 5–8", "**The libraries it trains with.** pandas reads the table; scikit-learn fits and scores."),
    ("10", "Line 10", "**The features.** One list, used for training and scoring alike ([the map](/map/))."),
    ("13-15", "Lines 13–15", "**Loading.** Rows missing a feature or the label are dropped."),
    ("18-23", "Lines 18–23", "**Training.** A stratified split keeps the churn share the same in both parts."),
    ("19, 23", "Lines 19, 23", "**The split and the score.** The held-out quarter is what the AUC is measured on."),
    ("26-30", "Lines 26–30", "**Running it.** The metric is written to `metrics.json` for the next stage to read."),
]
LESSON = (
    "---\nslug: walkthrough\ntitle: Training in code\norder: 2\nstatus: published\n---\n"
    "The training script, step by step.\n\n"
    ":::: walkthrough pipelines/train.py\nRun it with `python pipelines/train.py`.\n\n"
    f"```python\n{TRAIN}```\n\n"
    + "".join(f"::: step {spec}\n{text}\n:::\n\n" for spec, _, text in STEPS)
    + "::::\n\n## Its parameters\n\n"
    ":::: walkthrough params.yaml\n"
    f"```yaml\n{PARAMS}```\n\n"
    "::: step 1-3\nThe training section: one seed and the test share.\n:::\n\n"
    "::: step 4-6\nThe features the script reads.\n:::\n"
    "::::\n"
)


@pytest.fixture
def lesson_url(tmp_path: Path, live_server: object, learner: User) -> str:
    content = write_content_tree(tmp_path)
    (content / "01-first" / "02-walkthrough.md").write_text(LESSON)
    content_sync(root=content)
    return live_server.url + reverse("lessons:lesson", args=["first", "walkthrough"])


def _log_in(page: Page, url: str) -> None:
    page.goto(url)  # the lesson sends a visitor to the login page, and back after it
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("h1")).to_have_text("Training in code")


def _highlighted(walkthrough: Locator) -> list[int]:
    return [
        int(n)
        for n in walkthrough.locator(".walkthrough__line.is-current").evaluate_all(
            "lines => lines.map(line => line.dataset.line)"
        )
    ]


def _no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{widths[0]} px in {widths[1]} px; sticking out: {page.evaluate(TOO_WIDE)}"


def test_a_learner_steps_through_a_walkthrough_with_buttons_and_arrow_keys(page: Page, lesson_url: str) -> None:
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.set_viewport_size(DESKTOP)
    _log_in(page, lesson_url)
    train, params = page.locator("section.walkthrough").all()
    status = train.locator(".walkthrough__status")
    previous = train.get_by_role("button", name="Previous")
    next_ = train.get_by_role("button", name="Next")
    steps = train.locator("li.walkthrough__step")

    expect(status).to_have_text("Step 1 / 7")
    expect(previous).to_be_disabled()
    expect(next_).to_be_enabled()
    expect(steps.nth(0)).to_be_visible()
    for index in range(1, 7):
        expect(steps.nth(index)).to_be_hidden()
    assert _highlighted(train) == [1, 2, 3]
    expect(train.locator(".walkthrough__step:visible .walkthrough__lines")).to_have_text("Lines 1–3")

    next_.click()
    next_.click()
    expect(status).to_have_text("Step 3 / 7: Line 10")
    assert _highlighted(train) == [10]
    expect(steps.nth(2)).to_be_visible()
    expect(steps.nth(1)).to_be_hidden()
    previous.click()
    expect(status).to_have_text("Step 2 / 7: Lines 5–8")
    assert _highlighted(train) == [5, 6, 7, 8]

    # The arrow keys, while focus is inside the walkthrough: on a button here.
    previous.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(status).to_have_text("Step 6 / 7: Lines 19, 23")
    assert _highlighted(train) == [19, 23]
    page.keyboard.press("ArrowLeft")
    expect(status).to_have_text("Step 5 / 7: Lines 18–23")
    assert _highlighted(train) == [18, 19, 20, 21, 22, 23]

    # From a link in a step's narration, the arrow keys go on stepping: focus moves to a button as the step hides.
    previous.click()
    previous.click()
    train.get_by_role("link", name="the map").focus()
    page.keyboard.press("ArrowRight")
    expect(status).to_have_text("Step 4 / 7: Lines 13–15")
    expect(next_).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(status).to_have_text("Step 5 / 7: Lines 18–23")

    # The code box scrolls to the step's lines; the page stays where it is.
    code = train.locator("pre.walkthrough__code")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(status).to_have_text("Step 1 / 7: Lines 1–3")
    expect(previous).to_be_disabled()
    expect(next_).to_be_focused()  # the pressed button went disabled, so focus moved to the other one
    page.set_viewport_size({"width": 1366, "height": 500})  # a code box shorter than the file
    assert code.evaluate("pre => pre.scrollHeight > pre.clientHeight"), "the file should not fit its code box"
    top, page_y = code.evaluate("pre => pre.scrollTop"), page.evaluate("window.scrollY")
    for _ in range(6):
        page.keyboard.press("Enter")  # on the focused Next button; a click would scroll the page to it
    expect(status).to_have_text("Step 7 / 7: Lines 26–30")
    assert code.evaluate("pre => pre.scrollTop") > top
    assert page.evaluate("window.scrollY") == page_y
    assert code.evaluate("""pre => {
      const box = pre.getBoundingClientRect();
      return [...pre.querySelectorAll('.is-current')].every(line => {
        const r = line.getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom;
      });
    }"""), "the last step's lines are not all in view inside the code box"
    expect(next_).to_be_disabled()
    expect(previous).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(status).to_have_text("Step 7 / 7: Lines 26–30")

    # The second walkthrough on the page steps on its own.
    expect(params.locator(".walkthrough__status")).to_have_text("Step 1 / 2")
    assert _highlighted(params) == [1, 2, 3]
    params.get_by_role("button", name="Next").click()
    expect(params.locator(".walkthrough__status")).to_have_text("Step 2 / 2: Lines 4–6")
    assert _highlighted(params) == [4, 5, 6]
    expect(status).to_have_text("Step 7 / 7: Lines 26–30")
    assert _highlighted(train) == [26, 27, 28, 29, 30]
    assert not page.evaluate("window.__cspViolations")


def test_the_stepper_passes_axe_and_fits_a_phone(page: Page, lesson_url: str) -> None:
    page.set_viewport_size(DESKTOP)
    _log_in(page, lesson_url)
    train = page.locator("section.walkthrough").first
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.reload()
            expect(train.locator(".walkthrough__status")).to_have_text("Step 1 / 7")
            train.get_by_role("button", name="Next").click()  # the highlight moves off the first lines
            violations = _serious_violations(page)
            assert not violations, f"{scheme} at {viewport['width']} px: axe found\n" + "\n".join(violations)
            _no_sideways_scroll(page)
    # On a phone the long line scrolls inside the code box, which the keyboard can reach; there the arrow keys
    # scroll the code instead of changing the step.
    code = train.locator("pre.walkthrough__code")
    assert code.evaluate("pre => pre.scrollWidth > pre.clientWidth")
    expect(code).to_have_attribute("tabindex", "0")
    code.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("pre => pre.scrollLeft > 0", arg=code.element_handle())
    expect(train.locator(".walkthrough__status")).to_have_text("Step 2 / 7: Lines 5–8")


def test_without_javascript_every_step_is_listed_under_the_code(browser: Browser, lesson_url: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    _log_in(page, lesson_url)
    train = page.locator("section.walkthrough").first
    expect(train.locator(".walkthrough__file")).to_have_text("Walkthrough of pipelines/train.py")
    expect(train.locator("button")).to_have_count(0)
    expect(train.locator(".walkthrough__status")).to_have_count(0)
    steps = train.locator("ol.walkthrough__steps > li")
    expect(steps).to_have_count(7)
    for index, (_, label, _) in enumerate(STEPS):
        expect(steps.nth(index)).to_be_visible()
        expect(steps.nth(index).locator(".walkthrough__lines")).to_have_text(label)
    expect(steps.nth(3)).to_contain_text("Rows missing a feature or the label are dropped.")
    # The code is all there, in order, below the caption and above the steps.
    lines = train.locator(".walkthrough__line")
    expect(lines).to_have_count(len(TRAIN.splitlines()))
    assert train.locator("pre").evaluate("pre => pre.textContent") == TRAIN
    assert train.evaluate(
        "s => s.querySelector('pre').compareDocumentPosition(s.querySelector('ol')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert not train.locator(".walkthrough__line.is-current").count()
    _no_sideways_scroll(page)
    context.close()


def test_the_walkthrough_as_a_list_passes_axe(page: Page, lesson_url: str) -> None:
    # axe needs JavaScript to run, so the list is checked in a page where only walkthrough.js is kept from loading.
    page.route("**/js/walkthrough.js", lambda route: route.abort())
    page.set_viewport_size(DESKTOP)
    _log_in(page, lesson_url)
    train = page.locator("section.walkthrough").first
    expect(train.locator("ol.walkthrough__steps > li:visible")).to_have_count(7)
    expect(train.locator("button")).to_have_count(0)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        # The resize event, on which site.js lets a code box that now scrolls take focus, comes with the next
        # frame; axe looks once it has.
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        violations = _serious_violations(page)
        assert not violations, f"the list at {viewport['width']} px: axe found\n" + "\n".join(violations)
        _no_sideways_scroll(page)


# A learner's answer is rendered as any Markdown is, walkthroughs included, and is shown on the lesson page, where
# walkthrough.js steps it; without a code block nothing bounds the lines its steps name.
PEER_WALKTHROUGH = (
    ":::: walkthrough mine.py\n::: step 1-99999999999999\nEvery line there is.\n:::\n\n"
    "::: step 2\nJust one.\n:::\n::::\n"
)


def test_a_peers_walkthrough_naming_lines_by_the_billion_does_not_hang_the_lesson(
    page: Page, tmp_path: Path, live_server: object, learner: User, other_learner: User
) -> None:
    content = write_content_tree(tmp_path)
    (content / "01-first" / "02-walkthrough.md").write_text(
        LESSON + "\n::: prompt why-split\nWhy hold a quarter back?\n:::\n"
    )
    content_sync(root=content)
    prompt = DiscussionPrompt.objects.get(slug="why-split")
    prompts.prompt_answer_save(prompt=prompt, author=other_learner, body=PEER_WALKTHROUGH)
    prompts.prompt_answer_save(prompt=prompt, author=learner, body="To score the model on rows it never saw.")
    page.set_default_timeout(10_000)
    page.set_viewport_size(DESKTOP)
    _log_in(page, live_server.url + reverse("lessons:lesson", args=["first", "walkthrough"]))
    peer = page.locator(".prompt-peers section.walkthrough")
    expect(peer.locator(".walkthrough__status")).to_have_text("Step 1 / 2")
    peer.get_by_role("button", name="Next").click()
    expect(peer.locator(".walkthrough__status")).to_have_text("Step 2 / 2: Line 2")
    expect(page.locator("section.walkthrough").first.locator(".walkthrough__status")).to_have_text("Step 1 / 7")


def test_the_studio_preview_steps_and_keeps_its_step_as_the_instructor_types(
    page: Page, lesson_url: str, django_user_model: type, instructors: Group
) -> None:
    django_user_model.objects.create_user(username="ines", password=PASSWORD).groups.add(instructors)
    edit = lesson_url.replace(reverse("lessons:lesson", args=["first", "walkthrough"]), "") + reverse(
        "studio:lesson_edit", args=["first", "walkthrough"]
    )
    page.goto(edit)
    page.get_by_label("Username").fill("ines")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    preview = page.locator("#lesson-preview-body")
    train = preview.locator("section.walkthrough").first
    expect(train.locator(".walkthrough__status")).to_have_text("Step 1 / 7")
    train.get_by_role("button", name="Next").click()
    train.get_by_role("button", name="Next").click()
    expect(train.locator(".walkthrough__status")).to_have_text("Step 3 / 7: Line 10")

    body = page.locator("#id_body")
    text = body.input_value()
    with page.expect_response(lambda r: r.url.endswith(reverse("studio:lesson_preview"))):
        body.fill(text.replace("One list, used", "A single list, used"))
    expect(train.locator(".walkthrough__status")).to_have_text("Step 3 / 7")
    expect(train.locator("li.walkthrough__step:visible")).to_contain_text("A single list, used")
    assert _highlighted(train) == [10]
    expect(preview.locator(".walkthrough__controls")).to_have_count(2)  # set up once per swap, not twice

    # A problem typed into a step is named by its line; the good steps still step.
    with page.expect_response(lambda r: r.url.endswith(reverse("studio:lesson_preview"))):
        body.fill(text.replace("::: step 26-30", "::: step 26-90"))
    problem = "step 7 highlights line 90, but pipelines/train.py has 30 lines"
    expect(preview.locator(".problems")).to_contain_text(problem)
    expect(train.locator(".walkthrough__status")).to_have_text("Step 3 / 6")
