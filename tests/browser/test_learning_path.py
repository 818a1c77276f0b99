import re

import pytest
from playwright.sync_api import Page, expect

from lessons.services import content_sync
from tests.browser.test_first_job import SCREENSHOTS

pytestmark = pytest.mark.browser


def test_a_new_learner_reads_the_first_stage_and_meets_the_map(live_server: object, page: Page) -> None:
    content_sync()
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password", exact=True).fill("a long passphrase 42")
    page.get_by_label("Password confirmation").fill("a long passphrase 42")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/map/$"))
    expect(page.get_by_text("0 of 11 stages completed")).to_be_visible()
    locked = page.locator("#node-data-collection")
    expect(locked).to_have_class(re.compile("map-node--locked"))
    expect(locked).to_contain_text("Complete “Problem framing and MLOps foundations” first.")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "map.png", full_page=True)

    page.get_by_role("link", name=re.compile("Problem framing and MLOps foundations")).click()
    lesson_links = page.locator(".lesson-list a")
    count = lesson_links.count()
    assert count >= 2
    lesson_links.first.click()
    for index in range(count):
        expect(page.locator(".toc--side")).to_be_visible()
        with page.expect_response(lambda r: r.url.endswith("/read/")) as marked:
            page.get_by_role("button", name="Mark as read").click()
        assert marked.value.request.headers["hx-request"] == "true"
        expect(page.get_by_text("You have read this lesson.")).to_be_visible()
        expect(page.locator("#node-progress")).to_contain_text(f"{index + 1} of {count} lessons read")
        if index + 1 < count:
            page.locator(".pager__next").click()

    term = page.locator(".prose a.term").first
    term.hover()
    popover = page.locator(".term-popover")
    expect(popover).to_be_visible()
    expect(popover).not_to_be_empty()
    slug = term.get_attribute("data-term")
    popover.get_by_role("link", name="Open in the glossary").click()
    expect(page).to_have_url(re.compile(rf"/glossary/#{slug}$"))
    expect(page.locator(f"#{slug}")).to_be_visible()

    page.get_by_label("Filter terms").fill("Wasserstein")
    expect(page.locator("#term-list")).to_contain_text("1 term matching “Wasserstein”")

    page.get_by_role("link", name="Map").click()
    expect(page.locator("#node-problem-framing")).to_contain_text(f"{count}/{count} lessons")
    page.goto(live_server.url + "/map/data-collection/")
    expect(page.get_by_text("Complete “Problem framing and MLOps foundations” first.")).to_be_visible()
