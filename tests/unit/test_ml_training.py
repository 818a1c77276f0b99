import pytest

from sandbox.ml import training
from sandbox.ml.datasets import CLASSIFICATION, REGRESSION, load_builtin, make_churn

LOGISTIC = training.ALGORITHMS["logistic_regression"]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"C": 0}, "C must be between 0.0001 and 10000, not 0."),
        ({"C": "lots"}, "C must be a number"),
        ({"max_iter": 10.5}, "max_iter must be a whole number."),
        ({"penalty": "l1"}, "Logistic regression has no parameter 'penalty'."),
    ],
)
def test_parameters_outside_their_schema_are_refused(params: dict, problem: str) -> None:
    with pytest.raises(training.ParamError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        training.check_params(LOGISTIC, params)


def test_defaults_fill_what_is_not_given_and_choices_are_checked() -> None:
    assert training.check_params(LOGISTIC, {}) == {"C": 1.0, "max_iter": 1000}
    with pytest.raises(training.ParamError, match="kernel must be one of rbf, linear, poly"):
        training.check_params(training.ALGORITHMS["svm"], {"kernel": "sigmoid"})


def test_an_absurd_amount_of_work_is_refused_before_anything_runs() -> None:
    forest = training.ALGORITHMS["random_forest"]
    params = training.check_params(forest, {"n_estimators": 1000, "max_depth": 50})
    with pytest.raises(training.ParamError, match="would take too long"):
        training.check_work(forest, params, rows=200_000, columns=200, cv_folds=10)
    training.check_work(forest, training.check_params(forest, {}), rows=569, columns=30, cv_folds=5)


def _train(frame: object, target: str, task: str, key: str, **kwargs: object) -> training.TrainResult:
    algorithm = training.ALGORITHMS[key]
    return training.train(
        frame,
        target=target,
        task=task,
        algorithm=algorithm,
        params=training.check_params(algorithm, kwargs.pop("params", {})),
        preparation=kwargs.pop("preparation", training.Preparation()),
        split=kwargs.pop("split", training.Split()),
        seed=kwargs.pop("seed", 42),
    )


def test_a_classification_run_reports_every_metric_and_its_charts() -> None:
    result = _train(load_builtin("breast_cancer"), "target", CLASSIFICATION, "logistic_regression")
    assert set(result.metrics) == {f"val_{m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")}
    assert set(result.test_metrics) == {
        f"test_{m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    }
    assert result.metrics["val_f1"] > 0.9
    assert result.rows == {"train": 341, "validation": 114, "test": 114}
    assert len(result.charts["confusion"]) == 2
    assert result.charts["roc"]["fpr"][0] == 0.0
    assert result.charts["importances"]


def test_a_regression_run_reports_rmse_mae_and_r2() -> None:
    result = _train(load_builtin("diabetes"), "target", REGRESSION, "ridge", split=training.Split(cv_folds=3))
    assert set(result.metrics) == {"val_rmse", "val_mae", "val_r2", "cv_rmse_mean", "cv_rmse_std"}
    assert 0 < result.metrics["val_r2"] < 1


def test_the_same_seed_gives_exactly_the_same_metrics() -> None:
    frame = make_churn(rows=600, seed=2)
    first = _train(frame, "churned", CLASSIFICATION, "random_forest", params={"n_estimators": 20})
    second = _train(frame, "churned", CLASSIFICATION, "random_forest", params={"n_estimators": 20})
    assert first.metrics == second.metrics
    assert first.test_metrics == second.test_metrics


def test_a_text_column_needs_one_hot_encoding() -> None:
    frame = make_churn(rows=300, seed=2)
    with pytest.raises(training.ParamError, match="'contract' holds text; switch on one-hot"):
        _train(frame, "churned", CLASSIFICATION, "logistic_regression", preparation=training.Preparation(one_hot=False))


def test_an_algorithm_for_the_other_task_is_refused() -> None:
    with pytest.raises(training.ParamError, match="is for regression"):
        _train(load_builtin("iris"), "target", CLASSIFICATION, "ridge")


def test_every_algorithm_trains_on_a_small_set() -> None:
    for key, algorithm in training.ALGORITHMS.items():
        name, target_task = ("iris", CLASSIFICATION) if algorithm.task == CLASSIFICATION else ("diabetes", REGRESSION)
        result = _train(
            load_builtin(name),
            "target",
            target_task,
            key,
            params={"n_estimators": 10} if "n_estimators" in {p.name for p in algorithm.params} else {},
        )
        assert result.metrics, key
