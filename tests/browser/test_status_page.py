import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_footer_status_link_opens_a_readable_page(live_server: object, page: Page, closed_redis_url: str) -> None:
    page.goto(live_server.url + "/")
    page.locator("footer").get_by_role("link", name="Status").click()

    expect(page).to_have_url(live_server.url + "/status/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Status")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    database = page.locator('[data-check="database"]')
    expect(database.get_by_role("heading")).to_contain_text("OK")
    broker = page.locator('[data-check="broker"]')
    expect(broker.get_by_role("heading")).to_contain_text("Down")
    expect(broker).to_contain_text("make run starts an embedded Redis when none answers at REDIS_URL")
    expect(page.locator('[data-check="workers"]')).to_contain_text("Not asked, because Redis does not answer.")
    expect(page.get_by_role("alert")).to_contain_text("Broker (Redis)")
    assert "application/json" not in page.evaluate("document.contentType")

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
