"""Time limits: read from the worker's environment, and a job stopped by one ends, with its runs, in words."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Job, Run
from sandbox.tracking import services as tracking

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
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


def _limits_read_with(**env: str) -> subprocess.CompletedProcess:
    """What a fresh process (a worker, say) makes of the JOB_* variables: its Celery limits and visibility timeout."""
    code = (
        "from mlopslab.celery import app; c = app.conf; "
        "print(c.task_soft_time_limit, c.task_time_limit, c.broker_transport_options['visibility_timeout'])"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOB_")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "figures"),
    [
        ({}, "120 150 187"),
        ({"JOB_SOFT_TIME_LIMIT": "10"}, "10 40 50"),
        ({"JOB_SOFT_TIME_LIMIT": "2", "JOB_HARD_TIME_LIMIT": "4"}, "2 4 9"),
    ],
)
def test_the_limits_and_the_redelivery_come_from_the_environment(env: dict, figures: str) -> None:
    result = _limits_read_with(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == figures.split()


def test_a_hard_limit_not_above_the_soft_one_is_refused() -> None:
    result = _limits_read_with(JOB_SOFT_TIME_LIMIT="60", JOB_HARD_TIME_LIMIT="60")
    assert result.returncode != 0
    assert "JOB_HARD_TIME_LIMIT=60 is below the minimum of 61" in result.stderr


@pytest.mark.django_db
def test_a_sweep_whose_runs_each_fit_but_not_together_is_refused_and_creates_nothing(
    learner: object, settings: object, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_ROOT = tmp_path
    # A 2-second soft limit gives one run a 1-second budget: each tree below fits it, three in a row do not.
    monkeypatch.setenv("JOB_SOFT_TIME_LIMIT", "2")
    dataset = dataset_services.dataset_create_churn(
        owner=learner,
        name="churn",
        settings={"rows": 300, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0, "seed": 1},
    )
    experiment = tracking.experiment_create(owner=learner, name="e", dataset=dataset)
    version = dataset.versions.get()
    base = tracking.RunConfig("decision_tree", {}, training.Preparation(), training.Split(), 3)
    tree = training.ALGORITHMS["decision_tree"]
    one = training.check_params(tree, {"max_depth": 2})
    training.check_sweep_work(tree, [one], version.rows, version.columns, 0)  # one alone fits
    runs_before, jobs_before = Run.objects.count(), Job.objects.count()
    with pytest.raises(tracking.RunRefused, match=r"This sweep's 3 runs would take up to about \d+ s together"):
        tracking.sweep_create(experiment=experiment, version=version, base=base, grid={"max_depth": [2, 3, 4]})
    assert (Run.objects.count(), Job.objects.count()) == (runs_before, jobs_before)


@pytest.mark.django_db
def test_the_work_estimate_counts_the_targets_classes(learner: object, settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path
    from sandbox.datasets.selectors import version_class_count

    iris = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    diabetes = dataset_services.dataset_create_builtin(owner=learner, name="diabetes")
    assert version_class_count(version=iris.versions.get()) == 3
    assert version_class_count(version=diabetes.versions.get()) == 0
