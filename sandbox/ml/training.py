"""Training runs: algorithms with parameter schemas, preparation pipelines, splits, metrics and charts data.

Everything here is deterministic for a given seed (n_jobs is never set), so a
replay of a run with the same data, parameters and seed gives the same metrics.
"""

import math
import os
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

# How long a run may take. Each algorithm's `cost` is an upper bound, in seconds of one core of the
# worker's machine, of fitting its pipeline and predicting (labels and probabilities) the evaluation rows;
# the coefficients below were fitted to fit times measured on that machine with one BLAS/OpenMP thread
# (as each worker pool child runs, mlopslab/celery.py) on the slow case: Gaussian features and random
# labels, where no leaf becomes pure early and most points end up as support vectors. Each is the upper
# envelope of the measurements times a margin; benchmarks/training_caps.py fits every algorithm at the
# largest configuration the check accepts and fails if one takes longer than the soft time limit.
# An accepted run's estimate is at most this share of the worker's soft time limit
# (settings.JOB_SOFT_TIME_LIMIT, 120 s by default): the rest is room for a machine busy with other work.
BUDGET_SHARE = 0.5
# Seconds an accepted run may be estimated to take when Django's settings are not configured (0.5 × 120 s).
MAX_WORK = 60.0
MARGIN = 1.3
# Every run: reading the CSV, splitting, the preparation, metrics and charts, saving the pipeline.
RUN_FIXED = 0.5
RUN_PER_CELL = 4e-7


# Fitted coefficients (seconds; see above). Trees: per row × candidate feature × log2(rows) × level.
TREE_SPLIT = 1.4e-8
TREE_LEVELS = 1.6
TREE_ENTROPY = 1.8
TREE_FIXED = 0.002
TREE_PREDICT = 4e-8
FOREST_TREE_PREDICT = 0.001
BOOSTING_STAGE = 1e-8
# Least squares: per row × feature (the preparation), per row × feature².
LINEAR_CELL = 2e-7
LINEAR_GRAM = 1e-9
# Logistic regression, whole fits per row × (features + 1) (and per class beyond two): standardised features
# converged within 400 iterations in every measured case (collinear, heavy-tailed, rare binary, separable),
# the slowest binary one being heavy-tailed (Cauchy) features, the slowest ten-class one collinear columns;
# ten classes of Cauchy features took 3.7x the class figure, left to the soft limit so that the built-in
# digits can be cross-validated. Without scaling an ill-conditioned problem runs to max_iter, each
# iteration costing up to the figures after.
LOGISTIC_SCALED = 5.2e-6
LOGISTIC_SCALED_CLASS = 4.0e-6
LOGISTIC_SCALED_ITERATIONS = 400
LOGISTIC_ITERATION = 2.4e-8
LOGISTIC_ITERATION_CLASS = 5.4e-8
# SVM (libsvm through CalibratedClassifierCV: five calibration fits and a final one), binary, per kernel and
# C: seconds at 1,000 rows and 10 features, power of rows/1,000, power of (features + 10)/20.
SVM_FIT = {
    "rbf": {1: (0.219, 2.0, 0.43), 10: (0.324, 2.0, 0.49), 100: (0.729, 2.0, 0.55), 1000: (3.44, 2.0, -0.27)},
    "poly": {1: (0.14, 2.0, 0.52), 10: (0.706, 2.0, -0.3), 100: (6.76, 2.0, -1.05), 1000: (24.9, 2.0, -1.76)},
    "linear": {1: (0.787, 2.0, 1.12), 10: (1.19, 2.0, 2.66), 100: (8.58, 2.0, 3.33), 1000: (139.0, 2.0, 4.84)},
}
SVM_KERNEL = 0.12
# A polynomial kernel with C above 10 has a heavy tail that fattens steeply with the rows: at C = 1000 on two
# features the fit took 1-9.6 s on 200 training rows, 1-42 s on 250 and 1 to more than 60 s on 290 (six to
# fifteen data sets each), and at C = 100 from 0.6 s to 32 s on the same 500-row shape. Seconds at 200 rows
# and C = 1000 (four times the worst seen), the power of rows/200, scaled by (log10 C - 1) / 2 from nothing at C = 10.
SVM_POLY_TAIL = 40.0
SVM_POLY_TAIL_POWER = 7
SVM_SMALLEST = 250
SVM_PREDICT = 1.5e-9
# k-nearest neighbours, per (predicted row × fitted row) and search: a k-d tree up to 15 features (its cost
# grows steeply with them), brute force beyond; plus per neighbour asked for.
KNN_KD_TREE = {1: 1.6e-10, 2: 1.6e-10, 5: 1e-9, 10: 7.4e-9, 15: 1.9e-8}
KNN_BRUTE = 2.2e-9
KNN_BRUTE_FEATURE = 4.5e-11
KNN_NEIGHBOUR = 1e-11
KNN_DISTANCE = 1.1
KNN_FIT = 2e-8


@dataclass(frozen=True)
class Shape:
    """What a cost depends on: rows fitted, rows predicted, feature columns after preparation, classes."""

    rows: int
    predicted: int
    features: int
    classes: int
    """0 for regression."""
    scaled: bool = True
    """Whether numeric columns are standardised (Preparation.scale): an unscaled problem can be ill-conditioned."""


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


def _log2(value: float) -> float:
    return math.log2(max(value, 2.0))


def _linear_cost(params: dict, shape: Shape) -> float:
    """Least squares and ridge: one pass building the d × d normal equations (BLAS)."""
    cells = shape.rows * shape.features
    return MARGIN * (LINEAR_CELL * cells + LINEAR_GRAM * cells * shape.features + 0.03)


def _logistic(params: dict, shape: Shape) -> float:
    """L-BFGS on rows × (features + 1), multinomial beyond two classes (about the classes' number of times dearer)."""
    cells = shape.rows * (shape.features + 1)
    multiclass = shape.classes > 2
    if shape.scaled:
        per_cell = LOGISTIC_SCALED_CLASS * shape.classes if multiclass else LOGISTIC_SCALED
        fit = cells * per_cell * min(1.0, params["max_iter"] / LOGISTIC_SCALED_ITERATIONS)
    else:
        per_iteration = LOGISTIC_ITERATION_CLASS * shape.classes if multiclass else LOGISTIC_ITERATION
        fit = cells * per_iteration * params["max_iter"]
    return MARGIN * (fit + 0.02)


def _tree_levels(rows: float, max_depth: int | None, min_samples_leaf: int) -> float:
    """Levels a tree grows with every level visiting every row: max_depth, or about 1.6 log2 of the leaves it
    can have (random labels grow lopsided trees deeper than log2)."""
    grown = TREE_LEVELS * _log2(rows / min_samples_leaf) + 2
    return min(max_depth or 50, grown)


def _tree_fit(rows: float, features: float, levels: float, classes: int, criterion: str = "gini") -> float:
    """A best-split tree: each level sorts every row on each candidate feature."""
    slower = TREE_ENTROPY if criterion in ("entropy", "log_loss") else 1.0
    return TREE_SPLIT * rows * features * _log2(rows) * levels * slower * (1 + classes / 30) + TREE_FIXED


def _decision_tree(params: dict, shape: Shape) -> float:
    levels = _tree_levels(shape.rows, params["max_depth"], params["min_samples_leaf"])
    fit = _tree_fit(shape.rows, shape.features, levels, shape.classes, params["criterion"])
    return MARGIN * (fit + 2 * TREE_PREDICT * shape.predicted * levels)


def _forest(params: dict, shape: Shape) -> float:
    """Bootstrap trees on sqrt(features) candidates (classification) or all of them (regression); predicting
    walks every tree once for labels and once for probabilities."""
    trees = params["n_estimators"]
    classification = shape.classes > 0
    candidates = max(1, int(math.sqrt(shape.features))) if classification else shape.features
    levels = _tree_levels(shape.rows, params["max_depth"], params.get("min_samples_leaf", 1))
    fit = trees * _tree_fit(shape.rows, candidates, levels, shape.classes)
    passes = 2 if classification else 1
    predict = trees * (passes * TREE_PREDICT * shape.predicted * levels + FOREST_TREE_PREDICT)
    return MARGIN * (fit + predict)


def _boosting(params: dict, shape: Shape) -> float:
    """One regression tree on every feature per stage, and per class beyond two."""
    trees = params["n_estimators"] * (shape.classes if shape.classes > 2 else 1)
    levels = _tree_levels(shape.rows, params["max_depth"], 1)
    fit = trees * (_tree_fit(shape.rows, shape.features, levels, 0) + BOOSTING_STAGE * shape.rows)
    return MARGIN * (fit + 2 * trees * TREE_PREDICT * shape.predicted * levels)


def _svm_fit(kernel: str, c: float, rows: float, features: int) -> float:
    """libsvm's SMO on the five calibration folds and the final fit, binary: a power law in rows and features
    per kernel at C = 1, 10, 100 and 1000 (C below 1 costs what C = 1 does; log-linear between them), and at
    least the cost of computing the kernel matrix."""
    table = SVM_FIT[kernel]
    grid = sorted(table)
    tail = 0.0
    if kernel == "poly" and c > 10:
        tail = SVM_POLY_TAIL * (rows / 200) ** SVM_POLY_TAIL_POWER * (math.log10(min(c, 1000.0)) - 1) / 2
    # Below the smallest rows measured a fit costs no less (libsvm's own overhead dominates).
    rows = max(rows, SVM_SMALLEST)
    c = min(max(c, grid[0]), grid[-1])
    upper = next(g for g in grid if g >= c)
    lower = max(g for g in grid if g <= c)

    def at(grid_c: float) -> float:
        scale, rows_power, features_power = table[grid_c]
        return scale * (rows / 1000) ** rows_power * ((features + 10) / 20) ** features_power

    if upper == lower:
        fitted = at(lower)
    else:
        share = math.log(c / lower) / math.log(upper / lower)
        fitted = math.exp((1 - share) * math.log(at(lower)) + share * math.log(at(upper)))
    kernel_matrix = SVM_KERNEL * (rows / 1000) ** 2 * (features + 50) / 55 * (1 + math.log10(max(c, 1.0)))
    return max(fitted, kernel_matrix, tail)


def _svm(params: dict, shape: Shape) -> float:
    """One-vs-one for more than two classes: a binary problem per pair of classes on their rows."""
    kernel, c = params["kernel"], params["C"]
    if shape.classes > 2:
        pairs = shape.classes * (shape.classes - 1) / 2
        fit = pairs * _svm_fit(kernel, c, 2 * shape.rows / shape.classes, shape.features)
    else:
        fit = _svm_fit(kernel, c, shape.rows, shape.features)
    # Labels and probabilities: the decision function against every support vector (at most every row).
    predict = 2 * SVM_PREDICT * shape.rows * shape.predicted * (shape.features + 10)
    return MARGIN * (fit + predict)


def _calibrated_svc(**params: object) -> CalibratedClassifierCV:
    # An SVM has no probabilities of its own; calibration on internal folds gives
    # them (scikit-learn 1.9 deprecated SVC(probability=True) for this).
    return CalibratedClassifierCV(SVC(**params), ensemble=False)


def _knn_pair(features: int) -> float:
    if features > 15:
        return KNN_BRUTE + KNN_BRUTE_FEATURE * features
    known = sorted(KNN_KD_TREE)
    upper = next(f for f in known if f >= features)
    lower = max(f for f in known if f <= features)
    if upper == lower:
        return KNN_KD_TREE[lower]
    share = (features - lower) / (upper - lower)
    return math.exp((1 - share) * math.log(KNN_KD_TREE[lower]) + share * math.log(KNN_KD_TREE[upper]))


def _knn(params: dict, shape: Shape) -> float:
    """Fitting stores the rows (a k-d tree up to 15 features); each split's labels and probabilities are two
    searches of every predicted row against the fitted ones."""
    pair = _knn_pair(shape.features) + KNN_NEIGHBOUR * params["n_neighbors"]
    weighted = KNN_DISTANCE if params["weights"] == "distance" else 1.0
    predict = 2 * shape.predicted * shape.rows * pair * weighted
    return MARGIN * (KNN_FIT * shape.rows * _log2(shape.rows) * shape.features + predict + 0.01)


@dataclass(frozen=True)
class Algorithm:
    key: str
    label: str
    task: str
    make: Callable[..., object]
    params: tuple[Param, ...]
    cost: Callable[[dict, Shape], float] = _linear_cost
    """Seconds of one core to fit and predict, an upper bound (see Shape)."""
    fixed: dict = field(default_factory=dict)


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
            cost=_logistic,
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
            cost=_decision_tree,
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
            cost=_forest,
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
            cost=_forest,
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


# The validation and test splits together take 0.2 to 0.6 of the rows (RunForm): an estimate takes the
# worst of these, since fitting grows with the rows left for training and prediction with the rows held out.
HELD_OUT_SHARES = (0.2, 0.4, 0.5, 0.6)


def work_budget() -> float:
    """Seconds an accepted run may be estimated to take: a share of the worker's soft time limit.

    sandbox/ml stays free of Django, so the limit is read where mlopslab.settings reads it: the
    JOB_SOFT_TIME_LIMIT environment variable of this process (120 s when unset), which the web process
    and every worker share. Anything else there falls back to MAX_WORK.
    """
    try:
        limit = int(os.environ.get("JOB_SOFT_TIME_LIMIT", "120"))
    except ValueError:
        return MAX_WORK
    return BUDGET_SHARE * limit if limit >= 1 else MAX_WORK


def estimate_work(
    algorithm: Algorithm,
    params: dict,
    rows: int,
    columns: int,
    cv_folds: int = 0,
    *,
    classes: int = 2,
    scaled: bool = True,
) -> float:
    """Seconds a run takes at most on one core: `columns` counts the dataset's columns, the target among them.

    Cross-validation fits and scores the model once per fold besides the final fit: (1 + folds) × the model's
    cost. `classes` is the target's number of classes (two unless known; unused for regression), `scaled`
    whether the preparation standardises numeric columns.
    """
    features = max(1, columns - 1)
    classes = classes if algorithm.task == CLASSIFICATION else 0
    model = 0.0
    for share in HELD_OUT_SHARES:
        held_out = max(1, math.ceil(rows * share))
        shape = Shape(max(1, rows - held_out), held_out, features, classes, scaled)
        model = max(model, algorithm.cost(params, shape))
    return RUN_FIXED + RUN_PER_CELL * rows * columns + (1 + cv_folds) * model


def _largest(fits: Callable[[float], bool], low: float, high: float, *, whole: bool, log: bool) -> float | None:
    """The largest value in [low, high] for which `fits` holds (fits is monotone: true up to a point)."""
    if not fits(low):
        return None
    if fits(high):
        return high
    for _ in range(40):
        middle = math.sqrt(low * high) if log and low > 0 else (low + high) / 2
        if whole:
            middle = math.floor(middle)
            if middle <= low:
                break
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def _shown(value: float, *, whole: bool) -> str:
    if whole:
        return f"{int(value):,}"
    # Two significant digits, rounded down so that the value shown still fits.
    digits = 1 - math.floor(math.log10(abs(value))) if value else 0
    factor = 10.0**digits
    return f"{math.floor(value * factor) / factor:g}"


def _what_to_lower(
    algorithm: Algorithm,
    params: dict,
    rows: int,
    columns: int,
    cv_folds: int,
    budget: float,
    classes: int,
    scaled: bool,
) -> list[str]:
    """Single changes that bring the run within the budget: a parameter, the rows, the folds or the scaling."""

    def estimate(changed: dict, changed_rows: int, folds: int) -> float:
        return estimate_work(algorithm, changed, changed_rows, columns, folds, classes=classes, scaled=scaled)

    options = []
    if not scaled and estimate_work(algorithm, params, rows, columns, cv_folds, classes=classes) <= budget:
        options.append("switch on scaling of numeric columns")
    for param in algorithm.params:
        current = params[param.name]
        if param.kind == "choice":
            cheaper = [
                choice
                for choice in param.choices
                if choice != current and estimate({**params, param.name: choice}, rows, cv_folds) <= budget
            ]
            if cheaper:
                options.append(f"{param.name} to {' or '.join(cheaper)}")
            continue
        whole = param.kind == "int"
        low, high = float(param.minimum), float(param.maximum)
        # Which way is cheaper: most costs grow with a parameter, a few (min_samples_leaf) shrink.
        at_low = estimate({**params, param.name: int(low) if whole else low}, rows, cv_folds)
        at_high = estimate({**params, param.name: int(high) if whole else high}, rows, cv_folds)
        if math.isclose(at_low, at_high, rel_tol=1e-9):
            continue
        if at_low < at_high:

            def fits(value: float, name: str = param.name, whole: bool = whole) -> bool:
                return estimate({**params, name: int(value) if whole else value}, rows, cv_folds) <= budget

            best = _largest(fits, low, min(high, float(current)), whole=whole, log=param.log)
            if best is not None:
                options.append(f"{param.name} to at most {_shown(best, whole=whole)}")
        else:

            def fits_up(value: float, name: str = param.name, whole: bool = whole) -> bool:
                # Searched as the largest of -value, so that _largest finds the smallest value that fits.
                value = -value
                return estimate({**params, name: int(value) if whole else value}, rows, cv_folds) <= budget

            best = _largest(fits_up, -high, -max(low, float(current)), whole=whole, log=False)
            if best is not None:
                options.append(f"{param.name} to at least {_shown(-best, whole=whole)}")
    if cv_folds:
        fewer = [folds for folds in (5, 3) if folds < cv_folds and estimate(params, rows, folds) <= budget]
        if fewer:
            options.append(f"cross-validation to {fewer[0]} folds")
        elif estimate(params, rows, 0) <= budget:
            options.append("cross-validation to none")
    most = _largest(lambda value: estimate(params, int(value), cv_folds) <= budget, 10, rows, whole=True, log=True)
    if most is not None:
        options.append(f"the data to at most {int(most):,} rows (a smaller sample as a new dataset)")
    return options


def check_work(
    algorithm: Algorithm,
    params: dict,
    rows: int,
    columns: int,
    cv_folds: int,
    *,
    classes: int = 2,
    scaled: bool = True,
    budget: float | None = None,
) -> None:
    """ParamError, saying what to lower, when the run would not finish well within the worker's time limit.

    `columns` counts the target; `classes` and `scaled` as for estimate_work; `budget` defaults to work_budget().
    """
    budget = work_budget() if budget is None else budget
    seconds = estimate_work(algorithm, params, rows, columns, cv_folds, classes=classes, scaled=scaled)
    if seconds <= budget:
        return
    options = _what_to_lower(algorithm, params, rows, columns, cv_folds, budget, classes, scaled)
    about = f"up to about {seconds:,.0f} s, more" if seconds < 1e6 else "far more"
    shown = ", ".join(f"{p.name}={params[p.name]}" for p in algorithm.params)
    what = f"{algorithm.label}{' with ' + shown if shown else ''}"
    advice = f" To run it, change one of: {'; '.join(options)}." if options else " Use a smaller dataset."
    raise ParamError(
        f"This run would take too long: {about} than the {budget:.0f} s one run may take here "
        f"({what} on {rows:,} rows × {columns:,} columns"
        f"{f', {cv_folds}-fold cross-validation' if cv_folds else ''}).{advice}"
    )


def check_sweep_work(
    algorithm: Algorithm,
    grid_params: list[dict],
    rows: int,
    columns: int,
    cv_folds: int,
    *,
    classes: int = 2,
    scaled: bool = True,
) -> None:
    """A sweep's runs are trained one after another by one job: their estimates together must fit the budget."""
    budget = work_budget()
    seconds = sum(
        estimate_work(algorithm, p, rows, columns, cv_folds, classes=classes, scaled=scaled) for p in grid_params
    )
    if seconds > budget:
        raise ParamError(
            f"This sweep's {len(grid_params)} runs would take up to about {seconds:,.0f} s together, more than the "
            f"{budget:.0f} s one job may take here. Sweep fewer values, cheaper ones, or fewer folds."
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


def _prepared_width(frame: pd.DataFrame) -> int:
    """Columns the preparation makes of `frame`: one per numeric column, one per category of a text column."""
    width = 0
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        width += 1 if numeric else int(frame[column].nunique(dropna=False))
    return max(1, width)


@dataclass
class TrainResult:
    metrics: dict[str, float]
    """Validation metrics, and cross-validation mean and spread when asked for."""
    test_metrics: dict[str, float]
    charts: dict
    pipeline: Pipeline
    rows: dict[str, int]


def _confusion(truth: np.ndarray, predicted: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """confusion_matrix(truth, predicted, labels=classes) by counting, or None for a label outside classes."""
    rows, columns = np.searchsorted(classes, truth), np.searchsorted(classes, predicted)
    inside = (rows < len(classes)) & (columns < len(classes))
    if not inside.all() or (classes[rows] != truth).any() or (classes[columns] != predicted).any():
        return None
    counts = np.bincount(rows * len(classes) + columns, minlength=len(classes) ** 2)
    return counts.reshape(len(classes), len(classes))


def _counted_scores(confusion: np.ndarray, classes: np.ndarray, binary: bool) -> tuple[float, float, float] | None:
    """Precision, recall and F1 as precision_recall_fscore_support(average=binary|macro, zero_division=0) gives
    them, from the confusion matrix; None where scikit-learn would refuse (binary labels without 1)."""
    tp = np.diag(confusion)
    predicted, true = confusion.sum(axis=0), confusion.sum(axis=1)
    if binary:
        positive = [i for i, label in enumerate(classes) if label == 1]
        if not positive:
            return None
        chosen = np.array(positive[:1])
    else:
        # The labels present in either array, as unique_labels(y_true, y_pred) picks them.
        chosen = np.flatnonzero(predicted + true)
    tp, predicted, true = tp[chosen], predicted[chosen], true[chosen]
    precision = np.divide(tp, predicted, out=np.zeros(len(tp)), where=predicted > 0)
    recall = np.divide(tp, true, out=np.zeros(len(tp)), where=true > 0)
    denominator = (1.0 * true.astype(np.float64)) + predicted.astype(np.float64)
    f1 = np.divide(2.0 * tp.astype(np.float64), denominator, out=np.zeros(len(tp)), where=denominator > 0)
    return float(np.average(precision)), float(np.average(recall)), float(np.average(f1))


def _classification_metrics(
    y: pd.Series, predicted: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> tuple[dict[str, float], np.ndarray | None]:
    """Every classification metric of one split, and its confusion matrix, from its predictions and probabilities
    (computed once): accuracy, precision, recall and F1 are counted from the confusion matrix."""
    binary = y.nunique() <= 2 and len(classes) == 2
    truth = y.to_numpy()
    confusion = _confusion(truth, predicted, classes)
    scores = None if confusion is None else _counted_scores(confusion, classes, binary)
    if scores is None:
        # Labels the counting does not cover: scikit-learn decides (and says what is wrong).
        average = "binary" if binary else "macro"
        precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted, average=average, zero_division=0)
        accuracy = accuracy_score(truth, predicted)
    else:
        precision, recall, f1 = scores
        accuracy = np.trace(confusion) / len(truth)
    metrics = {
        "accuracy": accuracy,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "log_loss": log_loss(truth, probabilities, labels=classes),
    }
    if binary:
        metrics["roc_auc"] = roc_auc_score(truth, probabilities[:, 1])
    elif y.nunique() == len(classes):
        metrics["roc_auc"] = roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes)
    return metrics, confusion


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
    # Checked again with what only the data show: text columns' one-hot width and the number of classes.
    # Against the default budget or the worker's, whichever is larger: a worker started with a shorter
    # limit than the site's leaves stopping a run to that limit.
    check_work(
        algorithm,
        params,
        len(frame),
        _prepared_width(x_train) + 1,
        split.cv_folds,
        classes=int(y_train.nunique()) if task == CLASSIFICATION else 2,
        scaled=preparation.scale,
        budget=max(work_budget(), MAX_WORK),
    )
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
        val_metrics, val_confusion = _classification_metrics(y_val, val_predicted, val_probabilities, labels_order)
        test_metrics, _ = _classification_metrics(y_test, test_predicted, test_probabilities, labels_order)
        charts["labels"] = [str(label) for label in labels_order]
        if val_confusion is None:
            val_confusion = confusion_matrix(y_val.to_numpy(), val_predicted, labels=labels_order)
        charts["confusion"] = val_confusion.tolist()
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
