"""Training runs: algorithms with parameter schemas, preparation pipelines, splits, metrics and charts data.

Everything here is deterministic for a given seed (n_jobs is never set), so a
replay of a run with the same data, parameters and seed gives the same metrics.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from sandbox.ml.datasets import CLASSIFICATION, REGRESSION

ProgressCallback = Callable[[int, str], None]

# Work units are roughly "row-feature visits"; a refusal above this keeps one run
# within the worker's time limit on a small machine.
MAX_WORK = 2e9


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int", "float" or "choice"
    default: object
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    log: bool = False


@dataclass(frozen=True)
class Algorithm:
    key: str
    label: str
    task: str
    make: Callable[..., object]
    params: tuple[Param, ...]
    cost: Callable[[dict, int, int], float] = lambda params, rows, cols: rows * cols
    fixed: dict = field(default_factory=dict)


def _trees(params: dict, rows: int, cols: int) -> float:
    depth = params.get("max_depth") or 30
    return params.get("n_estimators", 1) * rows * max(1, math.log2(max(rows, 2))) * min(depth, 30) * math.sqrt(cols)


def _boosting(params: dict, rows: int, cols: int) -> float:
    return params["n_estimators"] * rows * cols * params["max_depth"] * 4


def _svm(params: dict, rows: int, cols: int) -> float:
    return rows**2 * cols * 5  # calibration fits five folds


def _calibrated_svc(**params: object) -> CalibratedClassifierCV:
    # An SVM has no probabilities of its own; calibration on internal folds gives
    # them (scikit-learn 1.9 deprecated SVC(probability=True) for this).
    return CalibratedClassifierCV(SVC(**params), ensemble=False)


def _knn(params: dict, rows: int, cols: int) -> float:
    return rows**2 * cols


ALGORITHMS: dict[str, Algorithm] = {
    a.key: a
    for a in (
        Algorithm(
            "logistic_regression",
            "Logistic regression",
            CLASSIFICATION,
            LogisticRegression,
            (
                Param("C", "float", 1.0, 1e-4, 1e4, help="Inverse regularisation strength.", log=True),
                Param("max_iter", "int", 1000, 50, 10_000, help="Iterations of the solver."),
            ),
        ),
        Algorithm(
            "decision_tree",
            "Decision tree",
            CLASSIFICATION,
            DecisionTreeClassifier,
            (
                Param("max_depth", "int", 5, 1, 50, help="Deepest split."),
                Param("min_samples_leaf", "int", 1, 1, 500, help="Fewest rows in a leaf."),
                Param("criterion", "choice", "gini", choices=("gini", "entropy", "log_loss")),
            ),
            cost=_trees,
        ),
        Algorithm(
            "random_forest",
            "Random forest",
            CLASSIFICATION,
            RandomForestClassifier,
            (
                Param("n_estimators", "int", 100, 1, 1000, help="Number of trees."),
                Param("max_depth", "int", 10, 1, 50, help="Deepest split of each tree."),
                Param("min_samples_leaf", "int", 1, 1, 500, help="Fewest rows in a leaf."),
            ),
            cost=_trees,
        ),
        Algorithm(
            "gradient_boosting",
            "Gradient boosting",
            CLASSIFICATION,
            GradientBoostingClassifier,
            (
                Param("n_estimators", "int", 100, 1, 1000, help="Boosting stages."),
                Param("learning_rate", "float", 0.1, 1e-3, 1.0, help="Shrinks each stage's contribution.", log=True),
                Param("max_depth", "int", 3, 1, 10, help="Depth of each tree."),
            ),
            cost=_boosting,
        ),
        Algorithm(
            "svm",
            "Support vector machine",
            CLASSIFICATION,
            _calibrated_svc,
            (
                Param("C", "float", 1.0, 1e-3, 1e3, help="Penalty for misclassified points.", log=True),
                Param("kernel", "choice", "rbf", choices=("rbf", "linear", "poly")),
            ),
            cost=_svm,
        ),
        Algorithm(
            "knn",
            "k-nearest neighbours",
            CLASSIFICATION,
            KNeighborsClassifier,
            (
                Param("n_neighbors", "int", 5, 1, 200, help="Neighbours that vote."),
                Param("weights", "choice", "uniform", choices=("uniform", "distance")),
            ),
            cost=_knn,
        ),
        Algorithm("linear_regression", "Linear regression", REGRESSION, LinearRegression, ()),
        Algorithm(
            "ridge",
            "Ridge regression",
            REGRESSION,
            Ridge,
            (Param("alpha", "float", 1.0, 0.0, 1e4, help="L2 penalty strength."),),
        ),
        Algorithm(
            "random_forest_regressor",
            "Random forest (regression)",
            REGRESSION,
            RandomForestRegressor,
            (
                Param("n_estimators", "int", 100, 1, 1000, help="Number of trees."),
                Param("max_depth", "int", 10, 1, 50, help="Deepest split of each tree."),
            ),
            cost=_trees,
        ),
    )
}
SEEDED = {"decision_tree", "random_forest", "gradient_boosting", "random_forest_regressor"}
IMPUTE = ("none", "mean", "median", "most_frequent")


class ParamError(ValueError):
    """A parameter out of its schema; the message is for the learner."""


def check_params(algorithm: Algorithm, raw: dict) -> dict:
    """Values for every parameter of the algorithm, defaults filled in; ParamError when out of bounds."""
    values = {}
    for param in algorithm.params:
        value = raw.get(param.name, param.default)
        if param.kind == "choice":
            if value not in param.choices:
                raise ParamError(f"{param.name} must be one of {', '.join(param.choices)}, not {value!r}.")
        else:
            try:
                value = int(value) if param.kind == "int" else float(value)
            except (TypeError, ValueError):
                raise ParamError(f"{param.name} must be a number, not {value!r}.") from None
            except OverflowError:
                raise ParamError(
                    f"{param.name} must be between {param.minimum:g} and {param.maximum:g}, not infinity."
                ) from None
            if param.kind == "int" and isinstance(raw.get(param.name), float) and not raw[param.name].is_integer():
                raise ParamError(f"{param.name} must be a whole number.")
            # A whole number of 400 digits is fine for Python but not for math.isfinite or :g.
            if (isinstance(value, float) and not math.isfinite(value)) or not param.minimum <= value <= param.maximum:
                shown = f"{value:g}" if abs(value) < 1e15 else "a number that large"
                raise ParamError(f"{param.name} must be between {param.minimum:g} and {param.maximum:g}, not {shown}.")
        values[param.name] = value
    unknown = set(raw) - {p.name for p in algorithm.params}
    if unknown:
        raise ParamError(f"{algorithm.label} has no parameter {sorted(unknown)[0]!r}.")
    return values


def estimate_work(algorithm: Algorithm, params: dict, rows: int, columns: int) -> float:
    return float(algorithm.cost(params, rows, columns))


def check_work(algorithm: Algorithm, params: dict, rows: int, columns: int, cv_folds: int) -> None:
    work = estimate_work(algorithm, params, rows, columns) * (1 + cv_folds)
    if work > MAX_WORK:
        raise ParamError(
            f"This run would take too long: about {work / MAX_WORK:.0f}× the sandbox's limit for one run "
            f"({rows:,} rows × {columns} columns with these parameters). Use fewer trees, shallower trees "
            "or fewer cross-validation folds."
        )


@dataclass(frozen=True)
class Preparation:
    impute: str = "median"
    scale: bool = True
    one_hot: bool = True

    def as_dict(self) -> dict:
        return {"impute": self.impute, "scale": self.scale, "one_hot": self.one_hot}


@dataclass(frozen=True)
class Split:
    test_size: float = 0.2
    validation_size: float = 0.2
    cv_folds: int = 0
    """0 for none; otherwise k-fold cross-validation on the training split."""


def build_pipeline(
    algorithm: Algorithm, params: dict, preparation: Preparation, frame: pd.DataFrame, seed: int
) -> Pipeline:
    """The preparation steps and the estimator as one scikit-learn Pipeline."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    numeric_steps, categorical_steps = [], []
    if preparation.impute != "none":
        numeric_steps.append(("impute", SimpleImputer(strategy=preparation.impute)))
        categorical_steps.append(("impute", SimpleImputer(strategy="most_frequent")))
    if preparation.scale:
        numeric_steps.append(("scale", StandardScaler()))
    if categorical:
        if not preparation.one_hot:
            raise ParamError(
                f"Column {categorical[0]!r} holds text; switch on one-hot encoding so the model can use it."
            )
        categorical_steps.append(("one_hot", OneHotEncoder(handle_unknown="ignore")))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps) if numeric_steps else "passthrough", numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    options = {**algorithm.fixed, **params}
    if algorithm.key in SEEDED:
        options["random_state"] = seed
    return Pipeline([("prepare", ColumnTransformer(transformers)), ("model", algorithm.make(**options))])


@dataclass
class TrainResult:
    metrics: dict[str, float]
    """Validation metrics, and cross-validation mean and spread when asked for."""
    test_metrics: dict[str, float]
    charts: dict
    pipeline: Pipeline
    rows: dict[str, int]


def _classification_metrics(
    y: pd.Series, predicted: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    """Every classification metric of one split, from its predictions and probabilities (computed once)."""
    binary = y.nunique() <= 2 and len(classes) == 2
    average = "binary" if binary else "macro"
    truth = y.to_numpy()
    # One pass gives precision, recall and F1 alike (what precision_score, recall_score and f1_score each compute).
    precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted, average=average, zero_division=0)
    metrics = {
        "accuracy": accuracy_score(truth, predicted),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "log_loss": log_loss(truth, probabilities, labels=classes),
    }
    if binary:
        metrics["roc_auc"] = roc_auc_score(truth, probabilities[:, 1])
    elif y.nunique() == len(classes):
        metrics["roc_auc"] = roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes)
    return metrics


def _regression_metrics(y: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    truth = y.to_numpy()
    return {
        "rmse": root_mean_squared_error(truth, predicted),
        "mae": mean_absolute_error(truth, predicted),
        "r2": r2_score(truth, predicted),
    }


def _predictions(pipeline: Pipeline, x: pd.DataFrame, *, probabilities: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's predictions for one split (and its probabilities): the preparation runs once for both."""
    prepared = pipeline[:-1].transform(x)
    model = pipeline[-1]
    return model.predict(prepared), model.predict_proba(prepared) if probabilities else None


def _importances(model: Pipeline) -> list[tuple[str, float]]:
    estimator = model.named_steps["model"]
    names = [str(n).split("__", 1)[-1] for n in model.named_steps["prepare"].get_feature_names_out()]
    if hasattr(estimator, "feature_importances_"):
        values = estimator.feature_importances_
    elif hasattr(estimator, "coef_"):
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    else:
        return []
    ranked = sorted(zip(names, (float(v) for v in values), strict=True), key=lambda p: -p[1])
    return ranked[:20]


def _ignore(percent: int, message: str) -> None:
    return None


def train(
    frame: pd.DataFrame,
    *,
    target: str,
    task: str,
    algorithm: Algorithm,
    params: dict,
    preparation: Preparation,
    split: Split,
    seed: int,
    on_progress: ProgressCallback = _ignore,
) -> TrainResult:
    """Split, fit, evaluate on validation (and cross-validation), score the sealed test split once."""
    if algorithm.task != task:
        raise ParamError(f"{algorithm.label} is for {algorithm.task}, but this dataset is for {task}.")
    on_progress(10, "Splitting the data")
    features, labels = frame.drop(columns=[target]), frame[target]
    if labels.isna().any():
        raise ParamError(f"The target column {target!r} has missing values; remove those rows first.")
    stratify = labels if task == CLASSIFICATION else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        features, labels, test_size=split.test_size, random_state=seed, stratify=stratify
    )
    validation_share = split.validation_size / (1 - split.test_size)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation_share, random_state=seed, stratify=y_rest if stratify is not None else None
    )
    pipeline = build_pipeline(algorithm, params, preparation, features, seed)
    metrics: dict[str, float] = {}
    if split.cv_folds:
        on_progress(20, f"Cross-validating over {split.cv_folds} folds")
        folds = (
            StratifiedKFold(split.cv_folds, shuffle=True, random_state=seed)
            if task == CLASSIFICATION
            else KFold(split.cv_folds, shuffle=True, random_state=seed)
        )
        scoring = "f1_macro" if task == CLASSIFICATION else "neg_root_mean_squared_error"
        scores = cross_val_score(pipeline, x_train, y_train, cv=folds, scoring=scoring)
        name = "cv_f1" if task == CLASSIFICATION else "cv_rmse"
        scores = scores if task == CLASSIFICATION else -scores
        metrics[f"{name}_mean"], metrics[f"{name}_std"] = float(scores.mean()), float(scores.std())
    on_progress(45, "Fitting the pipeline")
    pipeline.fit(x_train, y_train)
    on_progress(75, "Evaluating on the validation split")
    charts: dict = {"importances": _importances(pipeline)}
    classification = task == CLASSIFICATION
    val_predicted, val_probabilities = _predictions(pipeline, x_val, probabilities=classification)
    test_predicted, test_probabilities = _predictions(pipeline, x_test, probabilities=classification)
    if classification:
        labels_order = pipeline.classes_
        val_metrics = _classification_metrics(y_val, val_predicted, val_probabilities, labels_order)
        test_metrics = _classification_metrics(y_test, test_predicted, test_probabilities, labels_order)
        charts["labels"] = [str(label) for label in labels_order]
        charts["confusion"] = confusion_matrix(y_val.to_numpy(), val_predicted, labels=labels_order).tolist()
        if len(labels_order) == 2:
            fpr, tpr, _ = roc_curve(y_val.to_numpy(), val_probabilities[:, 1], pos_label=labels_order[1])
            charts["roc"] = {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}
    else:
        val_metrics = _regression_metrics(y_val, val_predicted)
        test_metrics = _regression_metrics(y_test, test_predicted)
        charts["residuals"] = {"actual": [float(v) for v in y_val], "predicted": [float(v) for v in val_predicted]}
    metrics.update({f"val_{k}": float(v) for k, v in val_metrics.items()})
    on_progress(90, "Scoring the sealed test split")
    return TrainResult(
        metrics=metrics,
        test_metrics={f"test_{k}": float(v) for k, v in test_metrics.items()},
        charts=charts,
        pipeline=pipeline,
        rows={"train": len(x_train), "validation": len(x_val), "test": len(x_test)},
    )
