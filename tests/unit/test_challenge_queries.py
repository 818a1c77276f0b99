"""Challenge checks run after every job and on every stage page: each answers as before, in a fixed number of
queries however many runs the learner has, and none of its queries reads every run."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons.challenges import challenge_status
from sandbox.datasets import services as dataset_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Dataset, DatasetVersion, Experiment, Job, Run
from sandbox.tracking import models as tracking_models

pytestmark = pytest.mark.django_db
SMALL_CHURN = {"rows": 200, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}
KEYS = [
    "foundations.first-job",
    "data.two-versions",
    "prep.pipeline-run",
    "tracking.compare-runs",
    "testing.f1-gate",
    "governance.replay-run",
]
FULL = {"impute": "median", "scale": True, "one_hot": True}


@pytest.fixture
def churn(learner: User, settings: object, tmp_path: object) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    return dataset_services.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)


@pytest.fixture
def cancer(learner: User, settings: object, tmp_path: object) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    return dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")


def _run(experiment: Experiment, **fields: object) -> Run:
    fields.setdefault("status", Run.Status.SUCCEEDED)
    fields.setdefault("params", {"max_depth": 3})
    fields.setdefault("preparation", FULL)
    return Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
        name=fields.pop("name", "run"), algorithm=fields.pop("algorithm", "decision_tree"), seed=1, **fields,
    )  # fmt: skip


def _steps(key: str, user: User) -> list[bool]:
    return [met for _, met in challenge_status(key, user).steps]


def test_the_text_flag_of_a_version_comes_from_its_schema(churn: Dataset, cancer: Dataset) -> None:
    assert churn.versions.get().has_text_column
    assert not cancer.versions.get().has_text_column
    version = cancer.versions.get()
    version.schema = [*version.schema, {"name": "colour", "dtype": "str"}]
    version.save(update_fields=["schema"])
    assert DatasetVersion.objects.get(pk=version.pk).has_text_column


def test_a_full_pipeline_needs_a_finished_run_on_text_that_imputes_and_scales(
    learner: User, churn: Dataset, cancer: Dataset
) -> None:
    on_cancer = Experiment.objects.create(owner=learner, name="cancer", dataset=cancer)
    on_churn = Experiment.objects.create(owner=learner, name="churn", dataset=churn)
    _run(on_cancer)
    _run(on_churn, status=Run.Status.FAILED)
    assert _steps("prep.pipeline-run", learner) == [False, False]
    _run(on_churn, preparation={"impute": "none", "scale": True, "one_hot": True})
    _run(on_churn, preparation={"impute": "median", "scale": False, "one_hot": True})
    assert _steps("prep.pipeline-run", learner) == [True, False]
    # One-hot encoding is not checked, as before: the text columns are encoded whatever it says.
    _run(on_churn, preparation={"impute": "most_frequent", "scale": True, "one_hot": False})
    assert _steps("prep.pipeline-run", learner) == [True, True]


def test_three_configurations_are_counted_in_one_experiment(learner: User, churn: Dataset, other_learner: User) -> None:
    first = Experiment.objects.create(owner=learner, name="first", dataset=churn)
    second = Experiment.objects.create(owner=learner, name="second", dataset=churn)
    runs = [
        _run(first, params={"max_depth": 3}),
        _run(first, params={"max_depth": 3}),
        _run(first, params={"max_depth": 3.0}),
        _run(first, params={"max_depth": 5}, status=Run.Status.FAILED),
        _run(second, params={"max_depth": 4}),
        _run(second, params={"max_depth": 5}),
    ]
    assert _steps("tracking.compare-runs", learner) == [False, False]
    # The same parameters under another algorithm are another configuration.
    runs.append(_run(first, algorithm="random_forest", params={"max_depth": 3}))
    assert _steps("tracking.compare-runs", learner) == [True, False]
    Experiment.objects.filter(pk=second.pk).update(compared_run_ids=[r.pk for r in runs[4:6]] + [runs[0].pk])
    assert _steps("tracking.compare-runs", learner) == [True, False]
    Experiment.objects.filter(pk=first.pk).update(compared_run_ids=[runs[0].pk, runs[2].pk, runs[6].pk])
    assert _steps("tracking.compare-runs", learner) == [True, True]
    assert _steps("tracking.compare-runs", other_learner) == [False, False]
    key = tracking_models.config_key
    assert key("a", {"x": 1, "y": 2}) == key("a", {"y": 2, "x": 1})
    assert len({key("a", {"x": 1}), key("a", {"x": 1.0}), key("a", {"x": True}), key("b", {"x": 1})}) == 4


def test_the_f1_gate_takes_one_look_per_experiment(learner: User, cancer: Dataset, churn: Dataset) -> None:
    gate = Experiment.objects.create(owner=learner, name="gate", dataset=cancer)
    other = Experiment.objects.create(owner=learner, name="other", dataset=cancer)
    _run(Experiment.objects.create(owner=learner, name="churn", dataset=churn), test_revealed_at=timezone.now())
    assert _steps("testing.f1-gate", learner) == [False, False, False]
    low = _run(gate, test_metrics={"test_f1": 0.9})
    high = _run(gate, test_metrics={"test_f1": 0.97})
    assert _steps("testing.f1-gate", learner) == [True, False, False]
    Run.objects.filter(pk=low.pk).update(test_revealed_at=timezone.now())
    assert _steps("testing.f1-gate", learner) == [True, True, False]
    Run.objects.filter(pk=high.pk).update(test_revealed_at=timezone.now())
    assert _steps("testing.f1-gate", learner) == [True, False, False]
    _run(other, test_metrics={"test_f1": 0.96}, test_revealed_at=timezone.now())
    _run(other, test_metrics={"test_f1": 0.99}, status=Run.Status.FAILED, test_revealed_at=timezone.now())
    assert _steps("testing.f1-gate", learner) == [True, True, True]


def test_a_replay_matches_when_its_metrics_equal_its_finished_originals(learner: User, churn: Dataset) -> None:
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=churn)
    metrics, test = {"val_f1": 0.8123456789, "val_accuracy": 0.9}, {"test_f1": 0.75}
    original = _run(experiment, metrics=metrics, test_metrics=test)
    unfinished = _run(experiment, metrics=metrics, test_metrics=test, status=Run.Status.FAILED)
    assert _steps("governance.replay-run", learner) == [False, False]
    _run(experiment, replay_of=original, metrics={**metrics, "val_f1": 0.8}, test_metrics=test)
    _run(experiment, replay_of=unfinished, metrics=metrics, test_metrics=test)
    _run(experiment, replay_of=original, metrics=metrics, test_metrics={"test_f1": 0.7})
    _run(experiment, replay_of=original, metrics=metrics, test_metrics=test, status=Run.Status.FAILED)
    assert _steps("governance.replay-run", learner) == [True, False]
    _run(experiment, replay_of=original, metrics=dict(metrics), test_metrics=dict(test))
    assert _steps("governance.replay-run", learner) == [True, True]


def _history(learner: User, churn: Dataset, cancer: Dataset, count: int) -> None:
    """`count` runs of each kind the checks look at, none of which meets a last step, so every check reads
    as far as it can: runs on text without imputation, one configuration per experiment, two looks at the
    test split, replays that differ from their originals, jobs of another kind."""
    on_churn = Experiment.objects.create(owner=learner, name=f"churn {count}", dataset=churn)
    on_cancer = Experiment.objects.create(owner=learner, name=f"cancer {count}", dataset=cancer)
    version = churn.versions.get()
    for experiment, dataset_version in ((on_churn, version), (on_cancer, cancer.versions.get())):
        Run.objects.bulk_create(
            Run(
                experiment=experiment, owner=learner, dataset_version=dataset_version, name=f"r{n}",
                algorithm="decision_tree", seed=n, status=Run.Status.SUCCEEDED, params={"max_depth": 2},
                preparation={"impute": "none", "scale": True, "one_hot": True},
                metrics={"val_f1": n / count}, test_metrics={"test_f1": 0.5},
                test_revealed_at=timezone.now() if n < 2 else None,
            )
            for n in range(count)
        )  # fmt: skip
        tracking_models.runs_reindex(experiment=experiment)
    originals = list(on_churn.runs.order_by("pk")[:count])
    Run.objects.bulk_create(
        Run(
            experiment=on_churn, owner=learner, dataset_version=version, name=f"{run.name}-replay",
            algorithm=run.algorithm, seed=run.seed, status=Run.Status.SUCCEEDED, params=run.params,
            replay_of=run, metrics={"val_f1": -1}, test_metrics=run.test_metrics,
        )
        for run in originals
    )  # fmt: skip
    Job.objects.bulk_create(Job(owner=learner, kind="train_run", status=Job.Status.SUCCEEDED) for _ in range(count))


def _queries(key: str, user: User) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        challenge_status(key, user)
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("key", KEYS)
def test_each_check_asks_the_same_queries_for_300_runs_as_for_30(
    key: str, learner: User, churn: Dataset, cancer: Dataset
) -> None:
    Job.objects.create(owner=learner, kind=FIRST_MODEL, status=Job.Status.FAILED)
    _history(learner, churn, cancer, 30)
    few, steps = _queries(key, learner), _steps(key, learner)
    _history(learner, churn, cancer, 270)
    many = _queries(key, learner)
    assert len(many) == len(few), many
    assert _steps(key, learner) == steps
    assert not all(steps)
    # Every query that touches runs stops early or counts in SQL, so none brings the runs into Python.
    for sql in many:
        if '"sandbox_run"' in sql:
            assert "LIMIT" in sql or "COUNT" in sql, sql
