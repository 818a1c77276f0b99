"""Monitoring's jobs on a real worker and a real Redis: simulated traffic through the endpoint, a drift report on
what it logged, and the policy's retraining that ends with the new version out as a canary."""

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox.datasets import services as dataset_services
from sandbox.jobs.models import Job
from sandbox.models import Deployment, DriftReport, ModelVersion, PredictionLog, Release, TrafficRun
from sandbox.monitoring import services
from sandbox.registry import artifacts
from sandbox.serving import endpoint
from sandbox.serving import services as serving
from tests.integration.test_deploy_on_a_worker import _version, _wait

pytestmark = pytest.mark.integration

FEATURE = "mean radius"


def _finished(job: Job, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job.pk} ({job.kind}) did not finish: {job.status} {job.message}")


def test_traffic_a_report_and_a_retraining_on_a_worker(
    celery_worker: object, learner: User, client: Client, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    v1 = _version(dataset, 1, 1.0)
    deployment = serving.deployment_create(
        owner=learner, name="cancer-api", registered_model=v1.registered_model, version=v1
    )
    assert _wait(deployment.releases.get()).status == Release.Status.LIVE
    services.policy_save(deployment=deployment, every_requests=200, window=200, drift_share=0.03, retrain=True)

    run = services.traffic_start(
        owner=learner, deployment=deployment, requests=240, rate=200, scenario="data", drift_from=40,
        settings={"shift": {FEATURE: 2.0}}, label_delay=0, seed=3,
    )  # fmt: skip
    job = _finished(run.job)
    assert job.status == Job.Status.SUCCEEDED, job.error
    run.refresh_from_db()
    assert (run.sent, run.answered) == (240, 240)
    assert PredictionLog.objects.filter(deployment=deployment).count() == 240
    # The check after 200 requests found the shifted feature and queued one retraining.
    policy_report = DriftReport.objects.get(trigger="policy")
    drifted = [column["column"] for column in policy_report.result["columns"] if column["drifted"]]
    assert FEATURE in drifted
    retraining = _finished(Job.objects.get(kind=services.RETRAIN), timeout=180)
    assert retraining.status == Job.Status.SUCCEEDED, retraining.error
    new = ModelVersion.objects.get(pk=retraining.result["version_id"])
    canary = _wait(Release.objects.get(pk=retraining.result["release_id"]))
    assert canary.status == Release.Status.LIVE, canary.error
    deployment.refresh_from_db()
    assert (deployment.strategy, deployment.candidate_version_id) == ("canary", new.pk)

    client.force_login(learner)
    page = client.get(f"/sandbox/traffic/{run.pk}/")
    assert page.status_code == 200
    assert "240 of 240 sent" in page.content.decode()
    assert TrafficRun.objects.get().finished_at is not None
    assert Deployment.objects.get().status == "live"
