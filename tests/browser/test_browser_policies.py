"""The Content-Security-Policy is enforced: pages draw their charts without inline script, and an
injected inline script does not run."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from mlopslab.headers import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from tests.browser.test_layout_and_accessibility import RECORD_CSP_VIOLATIONS

pytestmark = pytest.mark.browser


def test_every_answer_carries_both_policies(page: Page, live_server: object) -> None:
    for path in ("/", "/accounts/login/", "/status/", "/no/such/page/"):
        response = page.goto(live_server.url + path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["permissions-policy"] == PERMISSIONS_POLICY, path


def test_an_inline_script_is_blocked_and_reported(page: Page, live_server: object) -> None:
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/")
    page.evaluate("""() => { const s = document.createElement('script');
      s.textContent = 'window.__ran = true'; document.body.append(s); }""")
    expect(page.locator("body")).to_be_visible()
    assert page.evaluate("window.__ran") is None
    page.wait_for_function("window.__cspViolations.length > 0")
    assert "script-src" in page.evaluate("window.__cspViolations")[0]


def test_a_chart_swapped_in_by_htmx_is_drawn(
    page: Page, live_server: object, learner: User, celery_eager: None, settings: object, tmp_path: object
) -> None:
    from sandbox.jobs import services
    from sandbox.jobs.runners import FIRST_MODEL
    from sandbox.models import Job

    job = services.job_create(owner=learner, kind=FIRST_MODEL, params={"epochs": 5, "seed": 1})
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/sandbox/jobs/{job.pk}/")
    expect(page.locator(".js-plotly-plot svg.main-svg").first).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []


def test_the_admin_works_under_the_policy(page: Page, live_server: object, course: object) -> None:
    from lessons.models import Node

    User.objects.create_superuser("root", "root@example.org", "a long passphrase 42")
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("a long passphrase 42")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/lessons/node/{Node.objects.get(slug='second').pk}/change/")
    # filter_horizontal is drawn by the admin's own script: it ran.
    expect(page.locator(".selector-available")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
