"""The deployment pages: deploy from the list, the page's snippets with the real URL, the "try it" form through
the endpoint's own code, token creation shown once, rollback, and bad input answered with the form's errors."""

import json
import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox.models import ApiToken, Deployment, ModelVersion, PredictionLog, Release
from sandbox.serving import services
from tests.unit import test_serving_setup as setup
from tests.unit.test_serving_setup import split_body

cancer, jobs_now, live, token, v1, v2 = setup.cancer, setup.jobs_now, setup.live, setup.token, setup.v1, setup.v2

pytestmark = pytest.mark.django_db


def test_deploying_from_the_list_queues_the_job_and_the_page_shows_it_live(
    learner_client: Client, v1: ModelVersion, celery_eager: None, django_capture_on_commit_callbacks: Callable
) -> None:
    form = learner_client.get(f"/sandbox/deployments/?model={v1.registered_model_id}&version=1")
    assert form.status_code == 200
    assert 'value="1"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = learner_client.post(
            "/sandbox/deployments/", {"name": "cancer-api", "model": v1.registered_model_id, "version": 1}
        )
    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sandbox/deployments/{deployment.pk}/"
    page = learner_client.get(response["Location"]).content.decode()
    assert "http://testserver/serve/cancer-api/invocations" in page
    assert 'id="deployment-status">Live' in page
    assert "bundle.zip" in page


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"name": "Bad Name", "version": 1}, 422),
        ({"name": "fine-name"}, 422),
        ({"name": "fine-name", "version": 9}, 422),
        ({"name": "fine-name", "version": 1, "alias": "champion"}, 422),
        ({"name": "fine-name", "alias": "nobody"}, 404),
    ],
)
def test_a_deployment_that_cannot_be_is_the_forms_error(
    learner_client: Client, v1: ModelVersion, celery_eager: None, data: dict, status: int
) -> None:
    response = learner_client.post("/sandbox/deployments/", {"model": v1.registered_model_id, **data})
    assert response.status_code == status
    assert 'class="form-errors"' in response.content.decode() or 'class="error"' in response.content.decode()
    assert not Deployment.objects.exists()


def test_the_page_shows_copyable_snippets_and_a_new_token_once(live: Deployment, learner_client: Client) -> None:
    page = learner_client.get(f"/sandbox/deployments/{live.pk}/").content.decode()
    assert "curl -X POST http://testserver/serve/cancer-api/invocations" in page
    assert "$MLOPSLAB_TOKEN" in page
    assert "requests.post(" in page
    created = learner_client.post(f"/sandbox/deployments/{live.pk}/token/", {"name": "page token"})
    assert created.status_code == 201
    html = created.content.decode()
    token = re.search(r'id="new-token-value">([^<]+)<', html).group(1)
    assert f"Bearer {token}" in html
    assert services.token_hash(token) == ApiToken.objects.get(name="page token").token_hash
    assert token not in learner_client.get(f"/sandbox/deployments/{live.pk}/").content.decode()


def test_the_curl_snippet_works_as_written(live: Deployment, token: str, learner_client: Client) -> None:
    from sandbox.serving import selectors

    live.refresh_from_db()
    body = selectors.example_body(live)
    response = Client().post(
        "/serve/cancer-api/invocations", data=body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 200
    assert len(json.loads(response.content)["predictions"]) == 1


def test_try_it_sends_the_row_through_the_endpoint_and_logs_it(
    live: Deployment, v1: ModelVersion, learner_client: Client
) -> None:
    url = f"/sandbox/deployments/{live.pk}/try/"
    body = split_body(v1).decode()
    fragment = learner_client.post(url, {"content_type": "application/json", "body": body}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert 'data-status="200"' in html
    assert "answered by version 1" in html
    assert "<html" not in html
    assert PredictionLog.objects.count() == 1
    bad = learner_client.post(url, {"content_type": "application/json", "body": "{"}, HTTP_HX_REQUEST="true")
    assert 'data-status="400"' in bad.content.decode()
    assert "BAD_REQUEST" in bad.content.decode()
    assert PredictionLog.objects.count() == 1
    page = learner_client.get(f"/sandbox/deployments/{live.pk}/").content.decode()
    assert 'data-role="stable"' in page


def test_a_release_and_a_rollback_from_the_page(
    live: Deployment, v2: ModelVersion, learner_client: Client, celery_eager: None,
    django_capture_on_commit_callbacks: Callable,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = learner_client.post(
            f"/sandbox/deployments/{live.pk}/release/", {"version": 2, "strategy": "canary", "canary_percent": 20}
        )
    assert response.status_code == 302
    page = learner_client.get(f"/sandbox/deployments/{live.pk}/").content.decode()
    assert "answers 20 % of requests" in page
    assert "answers 80 % of requests" in page
    assert learner_client.post(f"/sandbox/deployments/{live.pk}/rollback/", {"reason": ""}).status_code == 422
    rolled = learner_client.post(f"/sandbox/deployments/{live.pk}/rollback/", {"reason": "canary errors"})
    assert rolled.status_code == 302
    live.refresh_from_db()
    assert live.current_release.kind == Release.Kind.ROLLBACK
    assert live.strategy == "single"


def test_another_learner_finds_no_deployment_page(live: Deployment, other_learner: User, client: Client) -> None:
    client.force_login(other_learner)
    for path in ("", "try/", "token/", "rollback/", "releases/1/bundle.zip"):
        url = f"/sandbox/deployments/{live.pk}/{path}"
        assert client.get(url).status_code in (404, 405)
        assert client.post(url, {"reason": "x", "body": "{}", "content_type": "application/json"}).status_code in (
            404,
            405,
        )
