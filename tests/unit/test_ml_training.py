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


# The work estimate: seconds on one core, refused above a share of the worker's soft time limit.
SVM = training.ALGORITHMS["svm"]


def _refusal(algorithm: training.Algorithm, params: dict, rows: int, columns: int, cv_folds: int = 0, **kw) -> str:
    with pytest.raises(training.ParamError) as refused:
        training.check_work(algorithm, training.check_params(algorithm, params), rows, columns, cv_folds, **kw)
    return str(refused.value)


def test_the_issues_polynomial_svm_is_refused_and_told_to_lower_c_or_the_rows() -> None:
    # A polynomial kernel with C=1000 on the churn generator's 8,000 rows × 6 columns passed the old check and
    # then held a worker for two minutes until the soft limit stopped it.
    message = _refusal(SVM, {"kernel": "poly", "C": 1000}, 8000, 6)
    assert "would take too long" in message
    assert "8,000 rows × 6 columns" in message
    assert "C to at most" in message
    assert "the data to at most" in message
    # Each suggestion, taken alone, is accepted.
    most_c = float(message.split("C to at most ")[1].split(";")[0])
    training.check_work(SVM, training.check_params(SVM, {"kernel": "poly", "C": most_c}), 8000, 6, 0)
    most_rows = int(message.split("the data to at most ")[1].split(" rows")[0].replace(",", ""))
    training.check_work(SVM, training.check_params(SVM, {"kernel": "poly", "C": 1000}), most_rows, 6, 0)
    _refusal(SVM, {"kernel": "poly", "C": 1000}, most_rows * 2, 6)


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_a_default_run_on_every_built_in_dataset_is_accepted(name: str) -> None:
    frame = load_builtin(name)
    task = REGRESSION if name == "diabetes" else CLASSIFICATION
    classes = frame["target"].nunique() if task == CLASSIFICATION else 2
    for algorithm in training.ALGORITHMS.values():
        if algorithm.task == task:
            params = training.check_params(algorithm, {})
            training.check_work(algorithm, params, len(frame), frame.shape[1], 0, classes=classes)
            training.check_work(algorithm, params, len(frame), frame.shape[1], 5, classes=2)


def test_defaults_on_the_largest_churn_table_are_accepted_but_an_svm() -> None:
    refused = []
    for key, algorithm in training.ALGORITHMS.items():
        if algorithm.task == CLASSIFICATION:
            try:
                training.check_work(algorithm, training.check_params(algorithm, {}), 50_000, 6, 0)
            except training.ParamError:
                refused.append(key)
    assert refused == ["svm"]


@pytest.mark.parametrize(
    ("key", "params", "rows", "columns", "folds", "named"),
    [
        ("random_forest", {"n_estimators": 1000}, 50_000, 6, 0, ["n_estimators to at most", "max_depth to at most"]),
        ("gradient_boosting", {"n_estimators": 1000, "max_depth": 10}, 50_000, 6, 0, ["n_estimators to at most"]),
        ("decision_tree", {"max_depth": 50}, 200_000, 26, 10, ["cross-validation to", "max_depth to at most"]),
        ("random_forest_regressor", {}, 200_000, 26, 0, ["n_estimators to at most", "the data to at most"]),
        ("knn", {"n_neighbors": 200}, 140_000, 26, 0, ["n_neighbors to at most", "the data to at most"]),
        ("logistic_regression", {"max_iter": 10_000}, 200_000, 26, 0, ["max_iter to at most"]),
        ("svm", {"kernel": "linear", "C": 1000}, 5000, 21, 0, ["C to at most"]),
        ("svm", {"kernel": "poly", "C": 1000}, 3000, 11, 0, ["C to at most", "kernel to rbf"]),
    ],
)
def test_a_refusal_names_what_to_lower(
    key: str, params: dict, rows: int, columns: int, folds: int, named: list[str]
) -> None:
    algorithm = training.ALGORITHMS[key]
    message = _refusal(algorithm, params, rows, columns, folds, scaled=key != "logistic_regression")
    assert f"{rows:,} rows × {columns} columns" in message
    assert "more than the 60 s one run may take here" in message
    for words in named:
        assert words in message, message


def test_unscaled_logistic_regression_is_costlier_and_told_to_switch_scaling_on() -> None:
    logistic = training.check_params(LOGISTIC, {})
    assert training.estimate_work(LOGISTIC, logistic, 50_000, 26, scaled=False) > 3 * training.estimate_work(
        LOGISTIC, logistic, 50_000, 26
    )
    assert "switch on scaling of numeric columns" in _refusal(LOGISTIC, {}, 200_000, 26, scaled=False)


def test_cross_validation_multiplies_the_models_cost_by_one_plus_the_folds() -> None:
    forest = training.ALGORITHMS["random_forest"]
    params = training.check_params(forest, {})
    fixed = training.estimate_work(forest, params, 1, 2) - training.ALGORITHMS["random_forest"].cost(
        params, training.Shape(1, 1, 1, 2)
    )
    once = training.estimate_work(forest, params, 20_000, 10) - fixed
    assert training.estimate_work(forest, params, 20_000, 10, 5) - fixed == pytest.approx(6 * once, rel=0.01)


def test_the_estimate_grows_with_rows_columns_trees_depth_c_and_classes() -> None:
    forest, boosting = training.ALGORITHMS["random_forest"], training.ALGORITHMS["gradient_boosting"]

    def seconds(algorithm: training.Algorithm, rows: int = 10_000, columns: int = 11, **params: object) -> float:
        return training.estimate_work(algorithm, training.check_params(algorithm, params), rows, columns)

    assert seconds(forest, rows=1000) < seconds(forest) < seconds(forest, rows=100_000)
    assert seconds(forest) < seconds(forest, columns=101)
    assert seconds(forest, n_estimators=10) < seconds(forest) < seconds(forest, n_estimators=500)
    assert seconds(forest, max_depth=3) < seconds(forest, max_depth=20)
    assert seconds(forest, max_depth=50, min_samples_leaf=100) < seconds(forest, max_depth=50)
    assert seconds(SVM, C=1) < seconds(SVM, C=100) < seconds(SVM, C=1000)
    assert seconds(SVM, kernel="rbf") < seconds(SVM, kernel="poly", C=1000)
    params = training.check_params(boosting, {})
    assert training.estimate_work(boosting, params, 5000, 11, classes=10) > 5 * training.estimate_work(
        boosting, params, 5000, 11
    )


def test_the_budget_is_a_share_of_the_workers_soft_time_limit(settings: object, monkeypatch: object) -> None:
    forest = training.ALGORITHMS["random_forest"]
    params = training.check_params(forest, {})
    assert training.work_budget() == 0.5 * settings.JOB_SOFT_TIME_LIMIT
    seconds = training.estimate_work(forest, params, 50_000, 6)
    assert 5 < seconds <= training.work_budget()
    training.check_work(forest, params, 50_000, 6, 0)
    # The variable settings read, read by sandbox/ml itself, which imports no Django.
    monkeypatch.setenv("JOB_SOFT_TIME_LIMIT", "10")
    assert "more than the 5 s one run may take here" in _refusal(forest, {}, 50_000, 6)
    monkeypatch.setenv("JOB_SOFT_TIME_LIMIT", "not a number")
    assert training.work_budget() == training.MAX_WORK


def test_a_sweeps_runs_together_must_fit_the_budget() -> None:
    forest = training.ALGORITHMS["random_forest"]
    grid = [training.check_params(forest, {"max_depth": depth}) for depth in range(10, 22)]
    for params in grid:
        training.check_work(forest, params, 30_000, 6, 0)
    with pytest.raises(training.ParamError, match="This sweep's 12 runs would take"):
        training.check_sweep_work(forest, grid, 30_000, 6, 0)
    training.check_sweep_work(forest, grid[:1], 30_000, 6, 0)


def test_training_refuses_what_only_the_data_show_before_fitting() -> None:
    # A text column of identifiers: one-hot encoding makes thousands of columns the form could not see.
    frame = make_churn(rows=3000, seed=1)
    frame["customer"] = [f"c{i}" for i in range(len(frame))]
    algorithm = training.ALGORITHMS["gradient_boosting"]
    params = training.check_params(algorithm, {})
    training.check_work(algorithm, params, len(frame), frame.shape[1], 0)
    with pytest.raises(training.ParamError, match=r"would take too long: .* on 3,000 rows × 1,\d{3} columns"):
        _train(frame, "churned", CLASSIFICATION, "gradient_boosting")
