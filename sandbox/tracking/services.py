"""Use cases of experiment tracking: runs, sweeps, replays, tags, comparisons, and the training itself."""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import platform
from dataclasses import dataclass
from importlib.metadata import version

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from mlopslab.version import code_version
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.datasets.selectors import version_class_count, version_frame
from sandbox.jobs.services import job_create
from sandbox.tracking.models import Experiment, Run, runs_reindex
from sandbox.tracking.selectors import MAX_COMPARE, runs_for_comparison

# scikit-learn loads with the first run this process checks or trains.
training = lazy_module("sandbox.ml.training")
joblib = lazy_module("joblib")

MAX_SWEEP = 12
# The kinds of job this capability registers runners for (sandbox.tracking.runners).
TRAIN_RUN = "train_run"
SWEEP = "sweep"


class RunRefused(Refused):
    """Nothing was queued or changed; the message says why."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


@dataclass(frozen=True)
class RunConfig:
    algorithm: str
    params: dict
    preparation: training.Preparation
    split: training.Split
    seed: int


def _algorithm(experiment: Experiment, config: RunConfig) -> training.Algorithm:
    algorithm = training.ALGORITHMS.get(config.algorithm)
    if algorithm is None:
        raise RunRefused(f"There is no algorithm called {config.algorithm!r}.")
    if algorithm.task != experiment.dataset.task:
        raise RunRefused(f"{algorithm.label} is for {algorithm.task}; this dataset is for {experiment.dataset.task}.")
    return algorithm


def _work_shape(version: DatasetVersion, config: RunConfig) -> dict:
    """What the work estimate needs beyond the rows and columns: the classes and whether numbers are scaled."""
    return {"classes": version_class_count(version=version), "scaled": config.preparation.scale}


def _checked(experiment: Experiment, version: DatasetVersion, config: RunConfig, *, shape: dict | None = None) -> dict:
    algorithm = _algorithm(experiment, config)
    shape = _work_shape(version, config) if shape is None else shape
    try:
        params = training.check_params(algorithm, config.params)
        training.check_work(algorithm, params, version.rows, version.columns, config.split.cv_folds, **shape)
    except training.ParamError as exc:
        raise RunRefused(str(exc)) from None
    return params


def _new_run(experiment: Experiment, version: DatasetVersion, config: RunConfig, params: dict, **fields: object) -> Run:
    number = experiment.runs.count() + 1
    return Run.objects.create(
        experiment=experiment,
        owner=experiment.owner,
        dataset_version=version,
        name=fields.pop("name", None) or f"{config.algorithm.replace('_', '-')}-{number}",
        algorithm=config.algorithm,
        params=params,
        preparation=config.preparation.as_dict(),
        split={
            "test_size": config.split.test_size,
            "validation_size": config.split.validation_size,
            "cv_folds": config.split.cv_folds,
        },
        seed=config.seed,
        **fields,
    )


def run_create(
    *, experiment: Experiment, version: DatasetVersion, config: RunConfig, name: str = "", replay_of: Run | None = None
) -> Run:
    """Log a run and queue its training; refuse, creating nothing, bad parameters or a full queue."""
    params = _checked(experiment, version, config)
    with transaction.atomic():
        run = _new_run(experiment, version, config, params, name=name, replay_of=replay_of)
        # A refused job (quota, queue down) leaves this block by its exception, taking the run with it.
        job = job_create(owner=experiment.owner, kind=TRAIN_RUN, params={"run_ids": [run.pk]})
        Run.objects.filter(pk=run.pk).update(job=job)
    run.refresh_from_db()
    return run


def sweep_run_name(algorithm: str, params: dict, varied: list[str]) -> str:
    """A name that says what varied, e.g. `random-forest n_estimators=50 max_depth=5`."""
    shown = " ".join(f"{name}={params[name]}" for name in varied)
    return f"{algorithm.replace('_', '-')} {shown}"[:100]


def sweep_create(
    *, experiment: Experiment, version: DatasetVersion, base: RunConfig, grid: dict[str, list]
) -> list[Run]:
    """A grid of up to MAX_SWEEP runs, logged separately and trained one after another by one job."""
    names = sorted(grid)
    # Counted before any is built: three lists of 1,000 values would be a billion combinations.
    count = math.prod(len(grid[name]) for name in names)
    if not names or not count:
        raise RunRefused("Give at least one parameter a list of values to sweep.")
    if count > MAX_SWEEP:
        raise RunRefused(f"That grid has {count:,} combinations; a sweep may have at most {MAX_SWEEP}.")
    combinations = list(itertools.product(*(grid[name] for name in names)))
    configs = [
        RunConfig(
            base.algorithm,
            {**base.params, **dict(zip(names, values, strict=True))},
            base.preparation,
            base.split,
            base.seed,
        )
        for values in combinations
    ]
    shape = _work_shape(version, base)
    checked = [_checked(experiment, version, config, shape=shape) for config in configs]
    try:
        # Each run fits the time one run may take; one job trains them all, one after another.
        training.check_sweep_work(
            _algorithm(experiment, base), checked, version.rows, version.columns, base.split.cv_folds, **shape
        )
    except training.ParamError as exc:
        raise RunRefused(str(exc)) from None
    with transaction.atomic():
        runs = [
            _new_run(experiment, version, c, p, name=sweep_run_name(c.algorithm, c.params, names))
            for c, p in zip(configs, checked, strict=True)
        ]
        job = job_create(owner=experiment.owner, kind=SWEEP, params={"run_ids": [r.pk for r in runs]})
        Run.objects.filter(pk__in=[r.pk for r in runs]).update(job=job)
    return list(Run.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk"))


def _require_training(run: Run) -> None:
    if not run.experiment.trains:
        raise RunRefused("This run evaluated a RAG configuration: it has no model, test split or replay.", status=409)


def run_replay(*, run: Run) -> Run:
    """Queue the same run again: same data version, algorithm, parameters, preparation, split and seed."""
    _require_training(run)
    config = RunConfig(
        algorithm=run.algorithm,
        params=run.params,
        preparation=training.Preparation(**run.preparation),
        split=training.Split(
            test_size=run.split["test_size"],
            validation_size=run.split["validation_size"],
            cv_folds=run.split["cv_folds"],
        ),
        seed=run.seed,
    )
    return run_create(
        experiment=run.experiment, version=run.dataset_version, config=config, name=f"{run.name}-replay", replay_of=run
    )


def run_reveal_test(*, run: Run) -> None:
    """Unseal the test-split metrics of a finished run. Done once, after choosing a run on validation."""
    _require_training(run)
    if run.status != Run.Status.SUCCEEDED:
        raise RunRefused("Only a finished run has test metrics to reveal.")
    if run.test_revealed_at is None:
        with transaction.atomic():
            Run.objects.filter(pk=run.pk).update(test_revealed_at=timezone.now())
            # The test metrics join the ones the runs table filters and sorts by.
            runs_reindex(run_ids=[run.pk], groups=["metrics"])
        run.refresh_from_db()
        progress_refresh(user=run.owner)


def run_set_tag(*, run: Run, key: str, value: str) -> None:
    key = key.strip()
    if not key or len(key) > 50:
        raise RunRefused("A tag needs a name of 1 to 50 characters.")
    if len(value) > 200:
        raise RunRefused("A tag's value may be at most 200 characters.")
    tags = {**run.tags, key: value}
    if len(tags) > 30:
        raise RunRefused("A run may have at most 30 tags.")
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(tags=tags)
        runs_reindex(run_ids=[run.pk], groups=["tags"])
    run.tags = tags


def run_set_note(*, run: Run, note: str) -> None:
    if len(note) > 5000:
        raise RunRefused("A note may be at most 5,000 characters.")
    Run.objects.filter(pk=run.pk).update(note=note)
    run.note = note


def experiment_create(*, owner: User, name: str, dataset: Dataset) -> Experiment:
    if dataset.owner_id != owner.pk:
        raise RunRefused("Choose one of your own datasets.", status=404)
    if dataset.source == Dataset.Source.CORPUS:
        raise RunRefused("The course corpus is evaluated on the RAG evaluation page, not trained on.")
    return Experiment.objects.create(owner=owner, name=name, dataset=dataset)


def experiment_compare(*, experiment: Experiment, run_ids: list[int]) -> list[Run]:
    """Record which finished runs the learner compared side by side (a stage's challenge reads it)."""
    runs = runs_for_comparison(experiment=experiment, run_ids=run_ids)
    if runs is None:
        raise RunRefused(f"Choose between 2 and {MAX_COMPARE} finished runs of this experiment to compare.")
    Experiment.objects.filter(pk=experiment.pk).update(compared_run_ids=[r.pk for r in runs])
    progress_refresh(user=experiment.owner)
    return runs


def runs_fail_with_job(job_id: int, error: str) -> None:
    """End the runs a failed job never finished, so that none is left queued or running for ever."""
    Run.objects.filter(job_id=job_id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
        status=Run.Status.FAILED, error=error, finished_at=timezone.now()
    )


def environment() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": version("scikit-learn"),
        "pandas": version("pandas"),
        "numpy": version("numpy"),
        "code": code_version(),
    }


def run_train(*, run_id: int, on_progress: training.ProgressCallback) -> None:
    """Train one logged run and record its metrics, charts and fitted pipeline (called by a worker)."""
    run = Run.objects.select_related("dataset_version__dataset").get(pk=run_id)
    Run.objects.filter(pk=run_id).update(status=Run.Status.RUNNING, error="")
    dataset = run.dataset_version.dataset
    try:
        on_progress(5, "Loading data")
        frame = version_frame(run.dataset_version)
        result = training.train(
            frame,
            target=dataset.target,
            task=dataset.task,
            algorithm=training.ALGORITHMS[run.algorithm],
            params=run.params,
            preparation=training.Preparation(**run.preparation),
            split=training.Split(**{k: run.split[k] for k in ("test_size", "validation_size", "cv_folds")}),
            seed=run.seed,
            on_progress=on_progress,
        )
        on_progress(95, "Saving the fitted pipeline")
        buffer = io.BytesIO()
        joblib.dump(result.pipeline, buffer)
        # Keyed by the run id, so a redelivered task overwrites instead of adding a file.
        path = f"runs/{run.pk}/model.joblib"
        if default_storage.exists(path):
            default_storage.delete(path)
        content = buffer.getvalue()
        saved = default_storage.save(path, ContentFile(content))
        # The registry loads this file only when its bytes still hash to this value.
        model_sha256 = hashlib.sha256(content).hexdigest()
    except SoftTimeLimitExceeded:
        # Left unfinished on purpose: the job's one finish path fails it and its runs with the limit in words.
        raise
    except Exception as exc:
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    with transaction.atomic():
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.SUCCEEDED,
            metrics=result.metrics,
            test_metrics=result.test_metrics,
            charts=result.charts,
            rows=result.rows,
            environment=environment(),
            model_file=saved,
            model_sha256=model_sha256,
            finished_at=timezone.now(),
        )
        runs_reindex(run_ids=[run_id], groups=["metrics"])
