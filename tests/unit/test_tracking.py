import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from sandbox import data, tracking
from sandbox.ml import training
from sandbox.models import Dataset, Experiment, Run

pytestmark = pytest.mark.django_db
SMALL_CHURN = {"rows": 400, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}


@pytest.fixture
def churn(learner: User, settings: object, tmp_path: object) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    return data.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)


@pytest.fixture
def experiment(churn: Dataset) -> Experiment:
    return Experiment.objects.create(owner=churn.owner, name="baseline", dataset=churn)


def _config(
    algorithm: str = "logistic_regression", seed: int = 42, cv_folds: int = 0, **params: object
) -> tracking.RunConfig:
    return tracking.RunConfig(algorithm, params, training.Preparation(), training.Split(cv_folds=cv_folds), seed)


def _train(experiment: Experiment, capture: object, **kwargs: object) -> Run:
    with capture(execute=True):
        run = tracking.run_create(
            experiment=experiment, version=experiment.dataset.versions.get(), config=_config(**kwargs)
        )
    run.refresh_from_db()
    return run


def test_pages_render_through_a_whole_tracking_session(
    learner_client: Client, experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    first = _train(experiment, django_capture_on_commit_callbacks, C=1.0)
    second = _train(
        experiment, django_capture_on_commit_callbacks, algorithm="random_forest", n_estimators=20, max_depth=4
    )
    assert first.status == second.status == Run.Status.SUCCEEDED, (first.error, second.error)
    for url in (
        reverse("sandbox:datasets"),
        reverse("sandbox:dataset", args=[experiment.dataset.pk]),
        reverse("sandbox:dataset_version", args=[experiment.dataset.pk, 1]),
        reverse("sandbox:experiments"),
        reverse("sandbox:experiment", args=[experiment.pk]),
        reverse("sandbox:run", args=[first.pk]),
        reverse("sandbox:compare", args=[experiment.pk]) + f"?runs={first.pk}&runs={second.pk}",
    ):
        response = learner_client.get(url)
        assert response.status_code == 200, url
