import time

import pytest
from django.urls import reverse

from sandbox.jobs import services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Job

pytestmark = pytest.mark.integration


def _wait_until_finished(job: Job, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job.pk} still {job.status} after {timeout} s")


def test_a_real_worker_trains_the_first_model(celery_worker: object, learner: object) -> None:
    job = services.job_create(owner=learner, kind=FIRST_MODEL, params={"epochs": 30, "seed": 2})
    # The message went out on commit, so the worker may already have claimed the row: any status
    # but failed is right here.
    assert job.status in Job.ACTIVE or job.status == Job.Status.SUCCEEDED, job.error
    job = _wait_until_finished(job)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.attempts, job.progress) == (1, 100)
    assert job.created_at <= job.started_at <= job.finished_at
    assert len(job.result["epochs"]) == 30
    assert job.result["test_accuracy"] > 0.9


def test_the_page_polls_a_job_from_queued_to_succeeded(celery_worker: object, learner: object, client: object) -> None:
    client.force_login(learner)
    response = client.post(reverse("sandbox:job_start"), {"epochs": 40, "seed": 0}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = Job.objects.get(owner=learner)
    statuses = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.get(reverse("sandbox:job", args=[job.pk]), HTTP_HX_REQUEST="true")
        statuses.append(response.status_code)
        if response.status_code == 286:
            break
        time.sleep(0.05)
    assert statuses[-1] == 286
    assert b"Succeeded" in response.content
    assert b"Test accuracy" in response.content


def test_healthz_answers_200_when_database_and_redis_answer(celery_worker: object, client: object) -> None:
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["redis"] == "ok"
    assert response.json()["database"] == "ok"
