"""Numbers a hostile or careless client sends: superscript digits, 400-digit values, huge sweep grids."""

import tracemalloc

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mlopslab.numbers import MAX_KEY, whole_number
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Run
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "number"),
    [("12", 12), ("0", 0), ("²", None), ("１２", None), ("-3", None), ("", None), ("1" * 400, None),
     (str(MAX_KEY), MAX_KEY), (str(MAX_KEY + 1), None), ("1e3", None), (" 7", None)],
)  # fmt: skip
def test_a_whole_number_is_ascii_digits_that_fit_a_database_key(raw: str, number: int | None) -> None:
    assert whole_number(raw) == number


@pytest.fixture
def experiment(learner: User, settings: object, tmp_path: object) -> Experiment:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    return Experiment.objects.create(owner=learner, name="e", dataset=dataset)


@pytest.mark.parametrize(
    ("name", "query"),
    [("experiment", {"shown": "²"}), ("experiment", {"shown": "9" * 400}), ("compare", {"runs": ["²", "1"]}),
     ("compare", {"runs": ["9" * 400, "1"]})],
)  # fmt: skip
def test_odd_digits_in_a_query_are_never_a_server_error(
    learner_client: Client, experiment: Experiment, name: str, query: dict
) -> None:
    response = learner_client.get(reverse(f"sandbox:{name}", args=[experiment.pk]), query)
    assert response.status_code in (200, 302)


def test_odd_digits_choosing_a_dataset_preselect_nothing(learner_client: Client) -> None:
    for raw in ("²", "9" * 400):
        assert learner_client.get(reverse("sandbox:experiments"), {"dataset": raw}).status_code == 200


@pytest.mark.parametrize("value", ["1" * 400, 1e400, 10**400])
def test_a_parameter_too_large_for_a_float_is_a_clear_error(value: object) -> None:
    with pytest.raises(training.ParamError, match="must be between 1 and 1000"):
        training.check_params(training.ALGORITHMS["random_forest"], {"n_estimators": value})


def test_a_400_digit_sweep_value_is_a_form_error(learner_client: Client, experiment: Experiment) -> None:
    form = {"algorithm": "random_forest", "version": experiment.dataset.versions.get().pk, "impute": "median",
            "test_size": 0.2, "validation_size": 0.2, "cv_folds": 0, "seed": 1,
            "sweep_n_estimators": f"10, {'9' * 400}"}  # fmt: skip
    response = learner_client.post(reverse("sandbox:sweep_create", args=[experiment.pk]), form)
    assert response.status_code == 422
    assert "must be between 1 and 1000" in response.content.decode()
    assert not Run.objects.exists()


def test_a_huge_grid_is_refused_by_its_count_before_any_combination_is_built(experiment: Experiment) -> None:
    base = tracking.RunConfig("random_forest", {}, training.Preparation(), training.Split(), 1)
    grid = {"n_estimators": list(range(1, 1001)), "max_depth": list(range(1, 1001)), "min_samples_leaf": [1, 2, 3]}
    version = experiment.dataset.versions.get()
    tracemalloc.start()
    try:
        with pytest.raises(tracking.RunRefused, match="3,000,000 combinations; a sweep may have at most 12"):
            tracking.sweep_create(experiment=experiment, version=version, base=base, grid=grid)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Building three million combinations takes hundreds of MB; counting them takes next to nothing.
    assert peak < 5_000_000
    assert not Run.objects.exists()
