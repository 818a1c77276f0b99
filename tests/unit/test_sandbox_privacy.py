"""A learner sees only their own work: every URL that takes an id answers another learner 404 and an
anonymous visitor a redirect to the login page, whatever the method, and changes nothing."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from sandbox.models import Experiment, Job, Run
from tests.unit.conftest import SiteUrl

pytestmark = pytest.mark.django_db


def _snapshot() -> list:
    return [
        list(Job.objects.values_list("pk", "status")),
        list(Run.objects.values_list("pk", "status", "tags", "note", "test_revealed_at")),
        list(Experiment.objects.values_list("pk", "compared_run_ids")),
    ]


def test_another_learner_finds_nothing_and_changes_nothing(
    client: Client, site_urls: list[SiteUrl], other_learner: User, closed_redis_url: str
) -> None:
    urls = [site_url.path for site_url in site_urls if site_url.takes_id]
    assert len(urls) >= 14, urls
    before = _snapshot()
    client.force_login(other_learner)
    answered = {}
    for url in urls:
        for method in (client.get, client.post):
            response = method(url, {"key": "k", "value": "v", "note": "mine now", "runs": ["1", "2"]})
            answered[(method.__name__, url)] = response.status_code
    wrong = {where: status for where, status in answered.items() if status not in (404, 405)}
    assert not wrong, f"another learner got an answer other than 404/405: {wrong}"
    assert _snapshot() == before


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, site_urls: list[SiteUrl]) -> None:
    login = reverse("login")
    for url in (site_url.path for site_url in site_urls if site_url.takes_id):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 405), (method.__name__, url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(login), url
