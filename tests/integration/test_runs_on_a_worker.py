import time

import pytest
from django.urls import reverse

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Run
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.integration


def _wait(runs: list[Run], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs:
            run.refresh_from_db()
        if all(run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED) for run in runs):
            return
        time.sleep(0.1)
    pytest.fail("runs did not finish")


def test_a_worker_trains_a_run_and_a_sweep(
    celery_worker: object, learner: object, client: object, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_churn(
        owner=learner,
        name="churn",
        settings={"rows": 600, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 0},
    )
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    version = dataset.versions.get()
    config = tracking.RunConfig(
        "random_forest", {"n_estimators": 20}, training.Preparation(), training.Split(cv_folds=3), 7
    )
    run = tracking.run_create(experiment=experiment, version=version, config=config)
    tree = tracking.RunConfig("decision_tree", {}, training.Preparation(), training.Split(), 7)
    grid = {"max_depth": [2, 3], "min_samples_leaf": [1, 5]}
    sweep = tracking.sweep_create(experiment=experiment, version=version, base=tree, grid=grid)
    _wait([run, *sweep])
    assert {r.status for r in [run, *sweep]} == {Run.Status.SUCCEEDED}, [r.error for r in [run, *sweep]]
    assert "cv_f1_mean" in run.metrics

    client.force_login(learner)
    response = client.get(reverse("sandbox:run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert b"Confusion matrix" in response.content
