"""The deploy job on a real worker and a real Redis: a first release goes live, a canary joins it, the endpoint
answers both versions, and the page's progress fragment stops polling once the release has ended."""

import json
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Deployment, Experiment, PredictionLog, Release, Run
from sandbox.registry import artifacts
from sandbox.registry import services as registry
from sandbox.serving import endpoint, services
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.integration


def _wait(release: Release, timeout: float = 90) -> Release:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        release.refresh_from_db()
        if release.is_finished:
            return release
        time.sleep(0.1)
    pytest.fail(f"release {release.number} did not finish: job {release.job.status} {release.job.message}")


def _version(dataset: object, seed: int, C: float) -> object:
    experiment = Experiment.objects.filter(dataset=dataset).first() or Experiment.objects.create(
        owner=dataset.owner, name="e", dataset=dataset
    )
    run = Run.objects.create(
        experiment=experiment, owner=dataset.owner, dataset_version=dataset.versions.get(), name=f"lr-{seed}",
        algorithm="logistic_regression", params={"C": C, "max_iter": 200}, seed=seed,
        preparation=training.Preparation().as_dict(), split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    tracking.run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    run.refresh_from_db()
    return registry.model_version_register(run=run, model_name="cancer")


def test_a_worker_deploys_a_version_then_a_canary_beside_it(
    celery_worker: object, learner: User, client: Client, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    v1, v2 = _version(dataset, 1, 1.0), _version(dataset, 2, 0.05)
    deployment = services.deployment_create(
        owner=learner, name="cancer-api", registered_model=v1.registered_model, version=v1
    )
    first = _wait(deployment.releases.get())
    assert first.status == Release.Status.LIVE, first.error
    assert first.job.status == "succeeded"
    deployment.refresh_from_db()
    assert (deployment.status, deployment.stable_version_id) == (Deployment.Status.LIVE, v1.pk)

    client.force_login(learner)
    poll = client.get(f"/sandbox/deployments/{deployment.pk}/?fragment=release", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286

    canary = services.release_start(
        deployment=deployment, actor=learner, version=v2, strategy="canary", canary_percent=50
    )
    assert _wait(canary).status == Release.Status.LIVE, canary.error
    _, token = services.api_token_create(owner=learner, name="it")
    names = [column["name"] for column in v1.signature]
    from sandbox.datasets.selectors import version_frame

    row = version_frame(dataset.versions.get())[names].iloc[0].tolist()
    body = json.dumps({"dataframe_split": {"columns": names, "data": [row]}})
    api = Client()
    endpoint.router.seed(7)
    answered = set()
    for _ in range(30):
        response = api.post(
            "/serve/cancer-api/invocations", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code == 200, response.content
        answered.add(response["X-Model-Version"])
    assert answered == {"1", "2"}
    roles = set(PredictionLog.objects.filter(release=canary).values_list("role", flat=True))
    assert roles == {"stable", "canary"}
