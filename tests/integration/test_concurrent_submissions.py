"""What held under load must keep holding: one learner's burst stays under the cap, many learners' jobs
all succeed."""

import threading
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connection

from mlopslab.refusals import Refused
from sandbox.jobs import services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Job

pytestmark = pytest.mark.integration


def _burst(owners: list[User], *, each: int) -> tuple[list[int], list[int]]:
    """Submit `each` jobs for every owner from as many threads at once; the ids created and statuses refused."""
    created, refused, lock = [], [], threading.Lock()
    start = threading.Barrier(len(owners) * each)

    def submit(owner: User) -> None:
        try:
            start.wait()
            job = services.job_create(owner=owner, kind=FIRST_MODEL, params={"epochs": 3, "seed": 0})
            with lock:
                created.append(job.pk)
        except Refused as refusal:
            with lock:
                refused.append(refusal.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(owner,)) for owner in owners for _ in range(each)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return created, refused


def _most_active_at_once(job_ids: list[int]) -> int:
    """The most jobs that were queued or running at the moment one of them was accepted, itself included."""
    jobs = list(Job.objects.filter(pk__in=job_ids).values("pk", "created_at", "finished_at"))
    return max(
        sum(1 for other in jobs if other["created_at"] <= job["created_at"]
            and (other["finished_at"] is None or other["finished_at"] > job["created_at"]))
        for job in jobs
    )  # fmt: skip


def test_thirty_submissions_at_once_from_one_learner_never_exceed_the_cap(celery_worker: object, learner: User) -> None:
    created, refused = _burst([learner], each=30)
    assert len(created) + len(refused) == 30
    assert len(created) >= settings.JOBS_PER_LEARNER
    assert set(refused) == {429}
    # Jobs finish while the burst goes on, so more than the cap may be accepted in all, but none was
    # accepted while the learner already had the cap's worth active.
    assert _most_active_at_once(created) <= settings.JOBS_PER_LEARNER
    deadline = time.monotonic() + 60
    while Job.objects.filter(pk__in=created, status__in=Job.ACTIVE).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(Job.objects.filter(pk__in=created).values_list("status", flat=True)) == {Job.Status.SUCCEEDED}


def test_fifty_jobs_from_seventeen_learners_all_succeed(celery_worker: object, django_user_model: type) -> None:
    learners = [django_user_model.objects.create_user(username=f"l{n}", password="x") for n in range(17)]
    created, refused = _burst(learners, each=3)
    assert refused == []
    assert len(created) == 51
    deadline = time.monotonic() + 120
    while Job.objects.filter(status__in=Job.ACTIVE).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Job.objects.filter(pk__in=created, status=Job.Status.SUCCEEDED).count() == 51
