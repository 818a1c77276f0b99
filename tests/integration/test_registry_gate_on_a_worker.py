"""The validation gate on a real worker: it passes and moves champion, then fails a weaker version and moves
nothing, each through the job path (queued, progress, succeeded) and the version page's poll."""

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import AliasEvent, Experiment, Job, ModelAlias, Run, Validation
from sandbox.registry import artifacts
from sandbox.registry import services as registry
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.integration


def _wait(rows: list, done: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in rows:
            row.refresh_from_db()
        if all(done(row) for row in rows):
            return
        time.sleep(0.1)
    pytest.fail(f"not finished: {rows}")


def test_the_gate_passes_and_fails_on_a_worker(
    celery_worker: object, learner: User, client: Client, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    artifacts.model_cache_clear()
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    version = dataset.versions.get()
    runs = [
        tracking.run_create(
            experiment=experiment,
            version=version,
            config=tracking.RunConfig(
                "logistic_regression", {"C": c, "max_iter": 200}, training.Preparation(), training.Split(), 3
            ),
        )
        for c in (1.0, 0.0001)
    ]
    _wait(runs, lambda run: run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED))
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 2, [run.error for run in runs]
    strong = registry.model_version_register(run=runs[0], model_name="cancer")
    weak = registry.model_version_register(run=runs[1], model_name="cancer")

    passing = registry.model_version_promote(version=strong, actor=learner, latency_limit_ms=1000, reason="first")
    _wait([passing], lambda validation: validation.is_finished)
    assert passing.status == Validation.Status.PASSED, passing.checks or passing.error
    assert passing.outcome == Validation.Outcome.MOVED
    assert passing.job.status == Job.Status.SUCCEEDED
    assert ModelAlias.objects.get(alias="champion").version == strong
    event = AliasEvent.objects.get()
    assert (event.gate, event.to_version, event.reason, event.validation) == ("passed", strong, "first", passing)

    failing = registry.model_version_promote(version=weak, actor=learner, tolerance=0.0, latency_limit_ms=1000)
    _wait([failing], lambda validation: validation.is_finished)
    assert failing.status == Validation.Status.FAILED
    assert failing.outcome == Validation.Outcome.BLOCKED
    assert {check["key"] for check in failing.checks if not check["passed"]} >= {"golden"}
    assert ModelAlias.objects.get(alias="champion").version == strong
    assert AliasEvent.objects.count() == 1

    client.force_login(learner)
    response = client.get(
        reverse("sandbox:model_version_gate", args=[weak.registered_model_id, weak.number]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 286
    assert b"Promote anyway" in response.content
