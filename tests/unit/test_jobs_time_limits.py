"""A job stopped by its soft time limit ends, with every run it was training, in words a learner can read."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Job, Run
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db


def test_a_sweep_stopped_by_the_soft_limit_fails_its_runs_with_the_reason(
    learner: object,
    settings: object,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
    celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 7
    dataset = dataset_services.dataset_create_churn(
        owner=learner,
        name="churn",
        settings={"rows": 300, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0, "seed": 1},
    )
    experiment = tracking.experiment_create(owner=learner, name="e", dataset=dataset)
    trained = []

    def train_until_the_limit(*args: object, **kwargs: object) -> object:
        # The second run is where Celery's soft limit strikes, inside the training.
        if trained:
            raise SoftTimeLimitExceeded()
        trained.append(1)
        return real_train(*args, **kwargs)

    real_train = training.train
    monkeypatch.setattr(training, "train", train_until_the_limit)
    base = tracking.RunConfig("decision_tree", {}, training.Preparation(), training.Split(), 3)
    with django_capture_on_commit_callbacks(execute=True):
        runs = tracking.sweep_create(
            experiment=experiment, version=dataset.versions.get(), base=base, grid={"max_depth": [2, 3, 4]}
        )

    reason = "The job took longer than its 7-second limit and was stopped."
    job = Job.objects.get(pk=runs[0].job_id)
    assert (job.status, job.error) == (Job.Status.FAILED, reason)
    statuses = [(run.status, run.error) for run in Run.objects.filter(job=job).order_by("pk")]
    assert statuses == [(Run.Status.SUCCEEDED, ""), (Run.Status.FAILED, reason), (Run.Status.FAILED, reason)]
