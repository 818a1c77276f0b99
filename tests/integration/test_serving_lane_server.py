"""The serving lane under the production recipe: gunicorn with a uvicorn worker on mlopslab.asgi, a version a
real worker deployed, predictions over HTTP with a token, and the request log written by the worker process's
background thread, none of them lost when gunicorn is told to stop right after the last request."""

import http.client
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User

from sandbox.datasets import services as dataset_services
from sandbox.datasets.selectors import version_frame
from sandbox.models import PredictionLog, Release
from sandbox.registry import artifacts
from sandbox.serving import endpoint, services
from tests.integration.faults import BIN, ROOT, database_url, free_port, wait_for
from tests.integration.test_deploy_on_a_worker import _version, _wait

pytestmark = pytest.mark.integration


@contextmanager
def _gunicorn(port: int) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "0", "SECURE_SSL_REDIRECT": "0",
           "SECRET_KEY": "lane-test-" + "x" * 50, "LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "mlopslab.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker",
         "--workers", "1", "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            # The master and its worker, which a kill of the master alone would leave running.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _post(url: str, body: bytes, token: str) -> tuple[int, object, dict]:
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_predictions_over_http_are_answered_by_the_lane_and_logged_by_the_worker_process(
    celery_worker: object, learner: User
) -> None:
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    version = _version(dataset, 1, 1.0)
    deployment = services.deployment_create(
        owner=learner, name="lane-api", registered_model=version.registered_model, version=version
    )
    assert _wait(deployment.releases.get()).status == Release.Status.LIVE
    _, token = services.api_token_create(owner=learner, name="lane")
    features = version_frame(dataset.versions.get()).drop(columns=[dataset.target])
    expected = artifacts.model_load(version).predict(features.iloc[:20]).tolist()
    port = free_port()
    url = f"http://127.0.0.1:{port}/serve/lane-api/invocations"
    with _gunicorn(port) as server:

        def answers() -> bool:
            try:
                return _post(url, b"{}", token)[0] == 400
            except OSError:
                return False

        wait_for(answers, timeout=60, what="gunicorn answering")
        ids = []
        for at in range(20):
            body = json.dumps(
                {"dataframe_split": {"columns": list(features.columns), "data": [features.iloc[at].tolist()]}}
            )
            status, headers, answer = _post(url, body.encode(), token)
            assert status == 200, answer
            assert answer == {"predictions": [expected[at]]}
            assert headers["X-Model-Version"] == "1"
            assert headers["X-Content-Type-Options"] == "nosniff"
            ids.append(headers["X-Request-Id"])
        # The worker process's own thread writes the rows within a fraction of a second.
        wait_for(lambda: PredictionLog.objects.filter(request_id__in=ids).count() == 20, timeout=10,
                 what="the lane's rows in the request log")  # fmt: skip
        logged = PredictionLog.objects.get(request_id=ids[3])
        assert logged.inputs == [dict(zip(features.columns, features.iloc[3].tolist(), strict=True))]
        assert logged.predictions == [expected[3]]
        assert logged.role == "stable"
        assert logged.latency_ms > 0
        status, headers, answer = _post(url, b"{}", "mlt_not-a-token")
        assert status == 401
        assert answer["error_code"] == "UNAUTHENTICATED"
        # A body declared over 10 MB is refused before any of it is sent, as a client waiting for
        # `100 Continue` (curl does, for large bodies) would see.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("POST", "/serve/lane-api/invocations")
        for name, value in (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"),
                            ("Content-Length", str(10 * 1024 * 1024 + 1))):  # fmt: skip
            connection.putheader(name, value)
        connection.endheaders()
        refused = connection.getresponse()
        assert refused.status == 413
        assert json.loads(refused.read())["error_code"] == "BAD_REQUEST"
        connection.close()
        # Rows still waiting when gunicorn is told to stop are written as the worker exits.
        body = json.dumps({"inputs": dict(zip(features.columns, features.iloc[0].tolist(), strict=True))})
        last = [_post(url, body.encode(), token)[1]["X-Request-Id"] for _ in range(5)]
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert PredictionLog.objects.filter(request_id__in=last).count() == 5
    assert PredictionLog.objects.filter(deployment=deployment).count() == 25
