"""The prediction endpoint through Django's test client: MLflow's four JSON forms and CSV, every bad input of
issue 11 (a 4xx with MLflow's JSON error body, nothing logged), tokens, owner isolation and the model cache."""

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from sandbox.ml import scoring
from sandbox.models import ApiToken, Deployment, ModelVersion, PredictionLog, RefusedRequest
from sandbox.registry import artifacts
from sandbox.serving import endpoint, services
from tests.unit import test_serving_setup as setup
from tests.unit.test_serving_setup import bearer, invoke, rows, split_body

# The shared fixtures, by name.
cancer, jobs_now, live, token, v1, v2 = setup.cancer, setup.jobs_now, setup.live, setup.token, setup.v1, setup.v2

pytestmark = pytest.mark.django_db
URL = "/serve/cancer-api/invocations"


def _error(response: object, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error_code", "message"}, body
    assert body["message"]
    return body


def _expected(version: ModelVersion, count: int = 3) -> list:
    names, data = rows(version, count)
    import pandas as pd

    frame = pd.DataFrame(data, columns=names)
    return artifacts.model_load(version).predict(frame).tolist()


def test_all_four_json_forms_and_csv_answer_the_same_predictions(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    names, data = rows(v1, 3)
    records = [dict(zip(names, row, strict=True)) for row in data]
    columns = {name: [row[i] for row in data] for i, name in enumerate(names)}
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": names, "data": data}},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": columns},
    }
    expected = _expected(v1)
    for form, body in bodies.items():
        response = invoke(client, "cancer-api", json.dumps(body).encode(), token)
        assert response.status_code == 200, (form, response.content[:300])
        assert json.loads(response.content) == {"predictions": expected}, form
        assert response["X-Model-Version"] == "1"
    csv = ",".join(f'"{name}"' for name in names) + "\n" + "\n".join(",".join(repr(v) for v in row) for row in data)
    response = invoke(client, "cancer-api", csv.encode(), token, content_type="text/csv")
    assert response.status_code == 200, response.content[:300]
    assert json.loads(response.content) == {"predictions": expected}
    logged = list(PredictionLog.objects.order_by("pk").values_list("role", "row_count", "version_id", "status"))
    assert logged == [("stable", 3, v1.pk, "ok")] * 5


def test_a_logged_request_keeps_its_rows_and_predictions(live: Deployment, v1: ModelVersion, token: str) -> None:
    client = Client()
    response = invoke(client, "cancer-api", split_body(v1, 2), token)
    log = PredictionLog.objects.get()
    names, data = rows(v1, 2)
    assert log.inputs == [dict(zip(names, row, strict=True)) for row in data]
    assert log.predictions == json.loads(response.content)["predictions"]
    assert log.request_id == response["X-Request-Id"]
    assert log.latency_ms > 0
    assert log.label is None
    assert log.labelled_at is None
    assert log.release_id == live.current_release_id


def test_a_large_batch_is_scored_and_its_log_keeps_a_capped_sample(
    live: Deployment, v1: ModelVersion, token: str
) -> None:
    names, data = rows(v1, 569)
    batch = (data * 36)[:20_000]
    body = json.dumps({"dataframe_split": {"columns": names, "data": batch}}).encode()
    assert 4_000_000 < len(body) < scoring.MAX_BODY_BYTES
    response = invoke(Client(), "cancer-api", body, token)
    assert response.status_code == 200
    assert len(json.loads(response.content)["predictions"]) == 20_000
    log = PredictionLog.objects.get()
    assert log.row_count == 20_000
    assert len(log.inputs) == len(log.predictions) == endpoint.LOGGED_ROWS


def _bad_inputs(version: ModelVersion) -> dict[str, tuple[bytes, str | None, int]]:
    names, data = rows(version, 1)
    row = data[0]
    split = {"columns": names, "data": [row]}

    def with_value(value: str) -> bytes:
        values = ", ".join([value, *(repr(v) for v in row[1:])])
        return f'{{"dataframe_split": {{"columns": {json.dumps(names)}, "data": [[{values}]]}}}}'.encode()

    json_type = "application/json"
    return {
        "malformed JSON": (b'{"dataframe_split": {"columns": [', json_type, 400),
        "no payload key": (b'{"params": {}}', json_type, 400),
        "two payload keys": (
            json.dumps({"dataframe_split": split, "instances": [dict(zip(names, row, strict=True))]}).encode(),
            json_type,
            400,
        ),
        "rows without column names": (json.dumps({"dataframe_split": {"data": [row]}}).encode(), json_type, 400),
        "instances as bare lists": (json.dumps({"instances": [row]}).encode(), json_type, 400),
        "a missing column": (
            json.dumps({"dataframe_split": {"columns": names[1:], "data": [row[1:]]}}).encode(),
            json_type,
            400,
        ),
        "a value that cannot be converted": (with_value('"twelve"'), json_type, 400),
        "null": (with_value("null"), json_type, 400),
        "NaN": (with_value("NaN"), json_type, 400),
        "Infinity": (with_value("Infinity"), json_type, 400),
        "a number beyond a double": (with_value("1e400"), json_type, 400),
        "another content type": (json.dumps({"dataframe_split": split}).encode(), "text/plain", 415),
        "another charset": (
            json.dumps({"dataframe_split": split}).encode(),
            "application/json; charset=latin-1",
            415,
        ),
        "no content type": (json.dumps({"dataframe_split": split}).encode(), "", 415),
        "JSON nested 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, json_type, 400),
        "a JSON list": (b"[1, 2, 3]", json_type, 400),
        "a blank body": (b"  ", json_type, 400),
        "CSV without the header": (",".join(map(repr, row)).encode(), "text/csv", 400),
    }


def test_every_bad_input_is_a_4xx_with_mlflows_error_body_and_logs_nothing(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    answered = {}
    for name, (body, content_type, status) in _bad_inputs(v1).items():
        response = invoke(client, "cancer-api", body, token, content_type=content_type)
        answered[name] = (response.status_code, status)
        if response.status_code == status:
            _error(response, status)
    wrong = {name: pair for name, pair in answered.items() if pair[0] != pair[1]}
    assert not wrong, f"(answered, expected): {wrong}"
    assert not PredictionLog.objects.exists()
    # Each refusal the endpoint decided once the token was accepted is kept for the learner, as sent and answered.
    kept = list(RefusedRequest.objects.filter(deployment=live).order_by("pk"))
    assert kept
    assert all(400 <= entry.status < 500 for entry in kept)
    assert all(entry.message for entry in kept)


def test_a_refused_request_is_kept_with_its_body_and_answer_and_only_the_newest_stay(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    response = invoke(client, "cancer-api", '{"dataframe_records": "nope"}', token)
    answer = _error(response, 400)
    entry = RefusedRequest.objects.get(deployment=live)
    assert entry.body == '{"dataframe_records": "nope"}'
    assert (entry.status, entry.error_code, entry.message) == (400, answer["error_code"], answer["message"])
    assert entry.version == v1
    assert token not in entry.body + entry.message
    for _ in range(RefusedRequest.KEPT + endpoint.PRUNE_EVERY):
        invoke(client, "cancer-api", "[1, 2", token)
    assert RefusedRequest.objects.filter(deployment=live).count() <= RefusedRequest.KEPT + endpoint.PRUNE_EVERY
    assert not RefusedRequest.objects.filter(pk=entry.pk).exists(), "the oldest went first"
    client.force_login(live.owner)
    page = client.get(reverse("sandbox:deployment", args=[live.pk])).content.decode()
    assert "Refused requests" in page
    assert "[1, 2" in page


def test_a_value_that_cannot_be_converted_is_named_in_the_message(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    body = _bad_inputs(v1)["a value that cannot be converted"][0]
    message = _error(invoke(client, "cancer-api", body, token), 400)["message"]
    assert v1.signature[0]["name"] in message
    assert "twelve" in message
    assert "dataframe_split" in message  # the accepted forms are listed


class _Unreadable:
    """A request body that fails the test if anything reads it."""

    def read(self, *args: object) -> bytes:
        raise AssertionError("the oversized body was read")

    readline = read


def test_a_body_over_10_mb_is_refused_with_413_before_it_is_read(live: Deployment, token: str, client: Client) -> None:
    response = client.generic(
        "POST", URL, b"", content_type="application/json",
        CONTENT_LENGTH=str(10 * 1024 * 1024 + 1), **{"wsgi.input": _Unreadable()}, **bearer(token),
    )  # fmt: skip
    _error(response, 413)
    assert not PredictionLog.objects.exists()


def test_the_endpoint_limit_is_the_scoring_modules(live: Deployment) -> None:
    assert endpoint.MAX_BODY_BYTES == scoring.MAX_BODY_BYTES


def test_credentials_are_checked_before_anything_is_said_about_the_endpoint(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    body = split_body(v1)
    assert _error(client.post(URL, body, content_type="application/json"), 401)["error_code"] == "UNAUTHENTICATED"
    for header in ("Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token", f"Token {token}"):
        response = client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=header)
        assert _error(response, 401)["error_code"] == "UNAUTHENTICATED", header
        assert response["WWW-Authenticate"].startswith("Bearer")
    unknown = client.post("/serve/nowhere/invocations", body, content_type="application/json")
    assert unknown.status_code == 401
    assert not PredictionLog.objects.exists()
    assert not RefusedRequest.objects.exists(), "a request refused before its token is nobody's to keep"


def test_an_unknown_endpoint_and_anything_else_under_serve_is_a_json_404(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    body = _error(invoke(client, "nowhere", split_body(v1), token), 404)
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for path in ("/serve/cancer-api/", "/serve/cancer-api/predict", "/serve/", "/serve/a/b/c/invocations"):
        _error(client.get(path, **bearer(token)), 404)
    _error(client.get(URL, **bearer(token)), 405)


def test_a_revoked_token_is_refused_at_once(live: Deployment, v1: ModelVersion, learner: User, client: Client) -> None:
    row, token = services.api_token_create(owner=learner, name="soon revoked")
    assert invoke(client, "cancer-api", split_body(v1), token).status_code == 200
    services.api_token_revoke(token=row)
    assert _error(invoke(client, "cancer-api", split_body(v1), token), 401)["error_code"] == "UNAUTHENTICATED"
    assert PredictionLog.objects.count() == 1


def test_tokens_are_stored_as_sha256_only_and_shown_once(learner: User, learner_client: Client) -> None:
    row, token = services.api_token_create(owner=learner, name="laptop")
    assert token.startswith("mlt_")
    assert len(token) > 40
    stored = ApiToken.objects.values().get(pk=row.pk)
    assert token not in json.dumps(stored, default=str)
    assert (
        stored["token_hash"] == services.token_hash(token) == __import__("hashlib").sha256(token.encode()).hexdigest()
    )
    page = learner_client.post("/sandbox/tokens/", {"name": "script"})
    assert page.status_code == 201
    created = ApiToken.objects.get(name="script")
    shown = page.content.decode()
    new = shown.split('id="new-token-value">', 1)[1].split("<", 1)[0]
    assert services.token_hash(new) == created.token_hash
    assert new not in learner_client.get("/sandbox/tokens/").content.decode()


def test_another_learners_endpoint_is_not_found_with_a_valid_token_or_a_session(
    live: Deployment, v1: ModelVersion, other_learner: User, client: Client
) -> None:
    _, theirs = services.api_token_create(owner=other_learner, name="theirs")
    _error(invoke(client, "cancer-api", split_body(v1), theirs), 404)
    client.force_login(other_learner)
    _error(client.post(URL, split_body(v1), content_type="application/json"), 404)
    _error(client.get("/serve/cancer-api/ping"), 404)
    assert not PredictionLog.objects.exists()


def test_the_owners_session_is_enough(live: Deployment, v1: ModelVersion, learner_client: Client) -> None:
    response = learner_client.post(URL, split_body(v1), content_type="application/json")
    assert response.status_code == 200
    assert json.loads(response.content)["predictions"] == _expected(v1, 1)


def test_ping_and_version_answer_as_mlflows_server(live: Deployment, token: str, client: Client) -> None:
    ping = client.get("/serve/cancer-api/ping", **bearer(token))
    assert (ping.status_code, ping.content, ping["Content-Type"]) == (200, b"\n", "application/json")
    version = client.get("/serve/cancer-api/version", **bearer(token))
    assert (version.status_code, version.content.decode()) == (200, endpoint.MLFLOW_VERSION)
    assert version["X-Model-Version"] == "1"
    _error(client.get("/serve/cancer-api/ping"), 401)
    _error(client.post("/serve/cancer-api/ping", **bearer(token)), 405)


def test_an_endpoint_that_is_still_deploying_answers_409(
    learner: User, v1: ModelVersion, token: str, client: Client, celery_eager: None
) -> None:
    # The job is queued but, outside the captured commit, never run.
    services.deployment_create(owner=learner, name="later", registered_model=v1.registered_model, version=v1)
    body = _error(invoke(client, "later", split_body(v1), token), 409)
    assert "no live release" in body["message"]


def test_a_model_file_changed_after_deploy_is_refused_not_loaded(
    live: Deployment, v1: ModelVersion, token: str, client: Client
) -> None:
    from django.core.files.storage import default_storage

    endpoint.serving_cache_clear()
    artifacts.model_cache_clear()
    with default_storage.open(v1.model_file, "wb") as handle:
        handle.write(b"tampered")
    body = _error(invoke(client, "cancer-api", split_body(v1), token), 409)
    assert "SHA-256" in body["message"]


def test_loaded_models_are_reused_until_a_deploy_changes_the_revision(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, jobs_now: Callable, learner: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    client = Client()
    loads = []
    real = endpoint._answerer
    monkeypatch.setattr(endpoint, "_answerer", lambda version: loads.append(version.number) or real(version))
    for _ in range(3):
        assert invoke(client, "cancer-api", split_body(v1), token)["X-Model-Version"] == "1"
    assert loads == [1]
    jobs_now(services.release_start, deployment=live, actor=learner, version=v2, strategy="single")
    assert invoke(client, "cancer-api", split_body(v1), token)["X-Model-Version"] == "2"
    assert invoke(client, "cancer-api", split_body(v1), token)["X-Model-Version"] == "2"
    assert loads == [1, 2]


def test_one_prediction_costs_one_query_and_one_insert_with_a_token(
    live: Deployment, v1: ModelVersion, token: str, django_assert_num_queries: Callable
) -> None:
    client = Client()
    invoke(client, "cancer-api", split_body(v1), token)  # loads the model
    with django_assert_num_queries(2):
        assert invoke(client, "cancer-api", split_body(v1), token).status_code == 200
