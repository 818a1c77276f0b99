"""One refusal type answered in one place, and polls that end when their object does."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from mlopslab.refusals import RefusalMiddleware, Refused
from sandbox.datasets import services as dataset_services
from sandbox.jobs import services as job_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Dataset, Experiment, Job, Run
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SMALL_CHURN = {"rows": 300, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.0, "seed": 3}


@pytest.fixture
def experiment(learner: User, settings: object, tmp_path: object) -> Experiment:
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = dataset_services.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)
    return Experiment.objects.create(owner=learner, name="baseline", dataset=dataset)


def _run(experiment: Experiment, status: str, job: Job | None = None) -> Run:
    return Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
        name=f"run-{status}", algorithm="logistic_regression", params={"C": 1.0}, seed=1, status=status, job=job,
    )  # fmt: skip


def _run_form(experiment: Experiment) -> dict:
    version = experiment.dataset.versions.get()
    return {"algorithm": "logistic_regression", "version": version.pk, "impute": "median", "scale": "on",
            "one_hot": "on", "test_size": 0.2, "validation_size": 0.2, "cv_folds": 0, "seed": 1}  # fmt: skip


def _answer(request_headers: dict, refusal: Refused, learner: User) -> object:
    request = RequestFactory().get("/somewhere", **request_headers)
    request.user = learner
    request.htmx = HtmxDetails(request)
    return RefusalMiddleware(lambda r: None).process_exception(request, refusal)


def test_the_middleware_answers_a_refusal_as_json_a_fragment_or_a_page(learner: User) -> None:
    refusal = Refused("You already have 3 jobs queued or running.", status=429)
    as_json = _answer({"HTTP_ACCEPT": "application/json"}, refusal, learner)
    assert as_json.status_code == 429
    assert json.loads(as_json.content) == {"error": "You already have 3 jobs queued or running.", "status": 429}
    fragment = _answer(HTMX, refusal, learner)
    assert fragment.status_code == 429
    assert fragment.content.decode().strip().startswith('<p class="form-errors" role="alert">')
    page = _answer({"HTTP_ACCEPT": "text/html"}, refusal, learner)
    assert page.status_code == 429
    assert "You already have 3 jobs queued or running." in page.content.decode()
    assert "<html" in page.content.decode()


def test_other_exceptions_are_left_to_django(learner: User) -> None:
    request = RequestFactory().get("/")
    assert RefusalMiddleware(lambda r: None).process_exception(request, ValueError("no")) is None


def test_an_unknown_kind_of_job_is_a_400_not_a_429(learner: User, celery_eager: None) -> None:
    with pytest.raises(Refused) as refused:
        job_services.job_create(owner=learner, kind="mine_bitcoin")
    assert refused.value.status == 400
    assert not Job.objects.exists()


def test_a_full_queue_keeps_its_429_through_the_run_form(
    learner_client: Client, experiment: Experiment, celery_eager: None
) -> None:
    for _ in range(3):
        Job.objects.create(owner=experiment.owner, kind=FIRST_MODEL)
    form = _run_form(experiment)
    response = learner_client.post(reverse("sandbox:run_create", args=[experiment.pk]), form)
    assert response.status_code == 429
    assert "already have 3 jobs queued or running" in response.content.decode()
    assert not Run.objects.exists()
    sweep = learner_client.post(reverse("sandbox:sweep_create", args=[experiment.pk]), {**form, "sweep_C": "0.1, 1"})
    assert sweep.status_code == 429
    assert not Run.objects.exists()


def test_a_queue_that_does_not_answer_is_a_503_through_the_run_form(
    learner_client: Client, experiment: Experiment, closed_redis_url: str
) -> None:
    form = _run_form(experiment)
    response = learner_client.post(reverse("sandbox:run_create", args=[experiment.pk]), form)
    assert response.status_code == 503
    assert "job queue is not reachable" in response.content.decode()
    assert not Run.objects.exists()
    assert not Job.objects.exists()


def test_a_bad_upload_is_a_422_form_error_that_saves_nothing(learner_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("data.csv", b"a,b\n1,2\n3,4\n", content_type="text/csv")
    response = learner_client.post(
        reverse("sandbox:dataset_create", args=["upload"]), {"name": "mine", "file": upload, "target": "z"}
    )
    assert response.status_code == 422
    assert "There is no column" in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_built_in_dataset_refuses_a_second_version(learner: User, settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    with pytest.raises(Refused, match="has one version") as refused:
        dataset_services.churn_version_add(dataset=dataset, settings=SMALL_CHURN)
    assert refused.value.status == 409
    assert dataset.versions.count() == 1


def test_the_run_fragment_carries_its_status_badge_and_stops_when_the_run_ends(
    learner_client: Client, experiment: Experiment
) -> None:
    run = _run(experiment, Run.Status.RUNNING)
    response = learner_client.get(reverse("sandbox:run", args=[run.pk]), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "hx-trigger" in body
    assert 'status--running" id="run-status">Running<' in body

    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED, error="The worker stopped responding.")
    response = learner_client.get(reverse("sandbox:run", args=[run.pk]), **HTMX)
    body = response.content.decode()
    assert response.status_code == 286
    assert "hx-trigger" not in body
    assert 'status--failed" id="run-status">Failed<' in body


def test_the_runs_table_polls_while_a_run_is_active_and_then_stops(
    learner_client: Client, experiment: Experiment
) -> None:
    run = _run(experiment, Run.Status.QUEUED)
    url = reverse("sandbox:experiment", args=[experiment.pk])
    response = learner_client.get(url, **HTMX)
    assert response.status_code == 200
    assert "hx-trigger" in response.content.decode()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    response = learner_client.get(url, **HTMX)
    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()


def test_a_form_fragment_is_rendered_alone(learner_client: Client, experiment: Experiment) -> None:
    url = reverse("sandbox:experiment", args=[experiment.pk])
    response = learner_client.get(url, {"fragment": "params", "algorithm": "random_forest"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="run-form"')
    assert 'id="runs-table"' not in body


def test_the_abandoned_job_sweep_ends_the_runs_of_the_job(
    learner_client: Client, experiment: Experiment, settings: object
) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    running = Job.objects.create(owner=experiment.owner, kind=tracking.SWEEP, status=Job.Status.RUNNING)
    Job.objects.filter(pk=running.pk).update(started_at=long_ago)
    queued = Job.objects.create(owner=experiment.owner, kind=tracking.TRAIN_RUN)
    Job.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(hours=2))
    sweep_runs = [_run(experiment, Run.Status.RUNNING, running), _run(experiment, Run.Status.QUEUED, running)]
    finished = _run(experiment, Run.Status.SUCCEEDED, running)
    lost = _run(experiment, Run.Status.QUEUED, queued)

    assert job_services.jobs_fail_abandoned() == 2
    for run in [*sweep_runs, lost]:
        run.refresh_from_db()
        assert run.status == Run.Status.FAILED
        assert run.error in (
            "The worker running this job stopped responding.",
            "No worker picked this job up within an hour.",
        )
        assert learner_client.get(reverse("sandbox:run", args=[run.pk]), **HTMX).status_code == 286
    finished.refresh_from_db()
    assert finished.status == Run.Status.SUCCEEDED
