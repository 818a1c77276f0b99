"""What the serving tests stand on: a trained breast-cancer version, registered, and deployed by the real deploy
job (run eagerly in the test's thread). The fixtures here are imported by the other `test_serving_*` modules."""

import io
import json
import zipfile
from collections.abc import Callable, Iterator

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Dataset, Deployment, Experiment, ModelVersion, Release, Run
from sandbox.registry import artifacts
from sandbox.registry import services as registry
from sandbox.serving import endpoint, services
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db


@pytest.fixture
def cancer(learner: User, settings: object, tmp_path: object) -> Iterator[Dataset]:
    settings.MEDIA_ROOT = tmp_path / "media"
    artifacts.model_cache_clear()
    endpoint.serving_cache_clear()
    yield dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    endpoint.serving_cache_clear()


def trained_version(dataset: Dataset, *, model_name: str = "cancer", seed: int = 42, C: float = 1.0) -> ModelVersion:
    """A logistic regression on the set, trained by the worker's own code and registered as the next version."""
    experiment = Experiment.objects.filter(dataset=dataset).first() or Experiment.objects.create(
        owner=dataset.owner, name="e", dataset=dataset
    )
    run = Run.objects.create(
        experiment=experiment, owner=dataset.owner, dataset_version=dataset.versions.get(), name=f"lr-{seed}-{C}",
        algorithm="logistic_regression", params={"C": C, "max_iter": 200}, seed=seed,
        preparation=training.Preparation().as_dict(), split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    tracking.run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    return registry.model_version_register(run=run, model_name=model_name)


@pytest.fixture
def jobs_now(celery_eager: None, django_capture_on_commit_callbacks: Callable) -> Callable:
    """Call a service that queues a deploy job and run that job before returning, through the real job path."""

    def call(service: Callable, **kwargs: object) -> object:
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return call


@pytest.fixture
def v1(cancer: Dataset) -> ModelVersion:
    return trained_version(cancer, seed=1)


@pytest.fixture
def v2(cancer: Dataset, v1: ModelVersion) -> ModelVersion:
    return trained_version(cancer, seed=2, C=0.05)


@pytest.fixture
def live(learner: User, v1: ModelVersion, jobs_now: Callable) -> Deployment:
    """`/serve/cancer-api/` serving version 1 alone."""
    deployment = jobs_now(
        services.deployment_create, owner=learner, name="cancer-api", registered_model=v1.registered_model, version=v1
    )
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.LIVE, deployment.releases.first().error
    return deployment


@pytest.fixture
def token(learner: User) -> str:
    return services.api_token_create(owner=learner, name="tests")[1]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def rows(version: ModelVersion, count: int = 1, start: int = 0) -> tuple[list[str], list[list[float]]]:
    """The first rows of the version's data, as column names and lists of values."""
    from sandbox.datasets.selectors import version_frame

    names = [column["name"] for column in version.signature]
    frame = version_frame(version.dataset_version)[names].iloc[start : start + count]
    return names, frame.to_numpy().tolist()


def split_body(version: ModelVersion, count: int = 1, start: int = 0) -> bytes:
    names, data = rows(version, count, start)
    return json.dumps({"dataframe_split": {"columns": names, "data": data}}).encode()


def invoke(client: Client, name: str, body: bytes, token: str, content_type: str = "application/json") -> object:
    return client.post(f"/serve/{name}/invocations", data=body, content_type=content_type, **bearer(token))


def test_a_deployment_goes_live_with_a_stored_bundle_that_mlflow_would_load(live: Deployment, v1: ModelVersion) -> None:
    release = live.releases.get()
    assert release.status == Release.Status.LIVE
    assert (live.stable_version_id, live.candidate_version, live.revision) == (v1.pk, None, 1)
    assert release.bundle_file == f"deployments/{live.pk}/versions/{v1.pk}/bundle.zip"
    assert [check["passed"] for check in release.smoke["checks"]] == [True, True, True]
    with zipfile.ZipFile(services.bundle_open(release)) as archive:
        names = set(archive.namelist())
        assert {"model/MLmodel", "model/model.pkl", "model/requirements.txt", "model/Dockerfile"} <= names
        mlmodel = yaml.safe_load(archive.read("model/MLmodel"))
    assert set(mlmodel["flavors"]) == {"python_function", "sklearn"}
    assert json.loads(mlmodel["signature"]["inputs"])[0]["name"] == v1.signature[0]["name"]


def test_the_deploy_job_reports_its_steps_on_the_job(live: Deployment) -> None:
    job = live.releases.get().job
    assert (job.status, job.progress) == ("succeeded", 100)
    assert job.result["status"] == Release.Status.LIVE


def test_a_version_whose_model_file_changed_fails_to_deploy_and_nothing_serves(
    learner: User, v1: ModelVersion, jobs_now: Callable
) -> None:
    from django.core.files.storage import default_storage

    with default_storage.open(v1.model_file, "wb") as handle:
        handle.write(b"not the model that was trained")
    artifacts.model_cache_clear()
    deployment = jobs_now(
        services.deployment_create, owner=learner, name="broken", registered_model=v1.registered_model, version=v1
    )
    deployment.refresh_from_db()
    release = deployment.releases.get()
    assert (deployment.status, deployment.stable_version) == (Deployment.Status.FAILED, None)
    assert release.status == Release.Status.FAILED
    assert "SHA-256" in release.error
    assert not release.bundle_file


def test_the_bundle_download_is_the_stored_zip(live: Deployment, learner_client: Client) -> None:
    release = live.releases.get()
    response = learner_client.get(f"/sandbox/deployments/{live.pk}/releases/{release.number}/bundle.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    content = b"".join(response.streaming_content)
    assert zipfile.is_zipfile(io.BytesIO(content))
    assert "attachment" in response["Content-Disposition"]


def test_a_column_that_may_be_missing_stays_optional_for_the_endpoint() -> None:
    from types import SimpleNamespace

    from sandbox.serving.services import signature_of

    version = SimpleNamespace(
        signature=[
            {"name": "tenure", "type": "double", "required": False},
            {"name": "plan", "type": "string", "required": True},
            {"name": "age", "type": "long"},
        ]
    )
    assert [(c.name, c.required) for c in signature_of(version).inputs] == [
        ("tenure", False),
        ("plan", True),
        ("age", True),
    ]
