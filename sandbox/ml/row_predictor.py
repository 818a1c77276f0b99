"""Predict a few rows of numbers quickly with a fitted pipeline, giving exactly what `pipeline.predict` gives.

A pipeline as `training.build_pipeline` makes it for numeric data is a ColumnTransformer holding one numeric
branch (SimpleImputer, StandardScaler, both or neither) in front of the estimator. Asked for one row through
`pipeline.predict(frame)`, scikit-learn spends most of its time on the way there — selecting columns from the
frame, dispatching the branch through joblib, validating the frame at every step — and little on the
arithmetic. A `RowPredictor` takes the rows as a float64 matrix in the signature's column order and does what
those steps do with the same numpy operations in the same order (the scaler's `X -= mean_; X /= scale_`),
then predicts: a linear model as its own `predict` computes it (`X @ coef_.T + intercept_`, then the class
of the largest score), any other estimator through its own `predict`. The labels are the pipeline's; a
linear regressor's values agree to the rounding of a dot product whose memory layout differs (a relative
1e-12). A test holds them so over every algorithm and preparation.

scikit-learn's own `predict` spends about 0.4 ms of a one-row linear prediction on validating its input
(namespaces, finiteness, feature counts) and 3 µs on the arithmetic; the rows reaching this module are
already checked (finite float64, the signature's columns), so repeating those checks buys nothing.

It applies only where it can be exact: `numeric_predictor` returns None for any other shape of pipeline
(text columns, an imputer that dropped an all-missing column, a step it does not know), and a caller that
gets None, or rows with missing values, predicts through the pipeline as before.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model._base import LinearClassifierMixin, LinearModel, MultiOutputLinearModel
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


@dataclass(frozen=True)
class RowPredictor:
    """The numeric branch of a fitted pipeline, unrolled: which columns, the scaler's statistics, the estimator."""

    columns: np.ndarray
    """Positions, in the signature's order, of the columns the branch reads, in the order it reads them."""
    mean: np.ndarray | None
    scale: np.ndarray | None
    estimator: object
    linear: str = ""
    """"classifier" or "regressor" when the estimator is a linear model predicted here; "" otherwise."""

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions for `matrix` (rows × signature columns, float64, every value finite)."""
        prepared = matrix[:, self.columns]  # a copy, as the column selection makes one
        if self.mean is not None:
            prepared -= self.mean
        if self.scale is not None:
            prepared /= self.scale
        estimator = self.estimator
        if self.linear == "classifier":
            # LinearClassifierMixin.decision_function and .predict, without their input checks.
            scores = prepared @ estimator.coef_.T + estimator.intercept_
            if scores.ndim > 1 and scores.shape[1] == 1:
                scores = scores.reshape(-1)
            indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
            return estimator.classes_.take(indices, axis=0)
        if self.linear == "regressor":
            # LinearModel._decision_function, without its input checks.
            coef = estimator.coef_
            return prepared @ (coef if coef.ndim == 1 else coef.T) + estimator.intercept_
        # The values are known finite (the caller checked), so scikit-learn's own check would only repeat it.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(estimator.predict(prepared))


def _linear_kind(estimator: object) -> str:
    """Whether the estimator predicts exactly as scikit-learn's linear classifiers or regressors do (its
    predict and decision function are theirs, not overridden), with dense coefficients."""
    kind = type(estimator)
    if not isinstance(getattr(estimator, "coef_", None), np.ndarray):
        return ""
    if (
        isinstance(estimator, LinearClassifierMixin)
        and kind.predict is LinearClassifierMixin.predict
        and kind.decision_function is LinearClassifierMixin.decision_function
        and isinstance(getattr(estimator, "classes_", None), np.ndarray)
    ):
        return "classifier"
    if (
        isinstance(estimator, LinearModel)
        and kind.predict in (LinearModel.predict, MultiOutputLinearModel.predict)
        and kind._decision_function is LinearModel._decision_function
    ):
        return "regressor"
    return ""


def _numeric_steps(branch: object) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """(mean, scale) of the branch's scaler, either None when not applied; None when the branch is not one
    this module can reproduce exactly."""
    if branch == "passthrough" or (isinstance(branch, FunctionTransformer) and branch.func is None):
        # A fitted ColumnTransformer holds "passthrough" as a FunctionTransformer without a function.
        return None, None
    if not isinstance(branch, Pipeline):
        return None
    mean = scale = None
    seen_scaler = False
    for _, step in branch.steps:
        if isinstance(step, SimpleImputer) and not seen_scaler:
            # Without missing values the imputer changes nothing, as long as it keeps every column: one whose
            # statistic is missing (all-missing in training) is dropped by transform, and an indicator adds some.
            statistics = np.asarray(step.statistics_, dtype=np.float64)
            if step.add_indicator or np.isnan(statistics).any() or not np.isnan(step.missing_values):
                return None
        elif isinstance(step, StandardScaler) and not seen_scaler:
            seen_scaler = True
            if step.with_mean:
                mean = np.asarray(step.mean_, dtype=np.float64)
            if step.with_std:
                scale = np.asarray(step.scale_, dtype=np.float64)
        else:
            return None
    return mean, scale


def numeric_predictor(pipeline: object, names: Sequence[str]) -> RowPredictor | None:
    """A RowPredictor for a fitted `Pipeline([("prepare", ColumnTransformer([numeric branch])), ("model", …)])`
    whose branch reads columns among `names` (the signature's), or None for any other pipeline."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    (_, prepare), (_, estimator) = pipeline.steps
    if not isinstance(prepare, ColumnTransformer) or not hasattr(prepare, "transformers_"):
        return None
    fitted = [(name, branch, cols) for name, branch, cols in prepare.transformers_ if name != "remainder"]
    remainder = [branch for name, branch, _ in prepare.transformers_ if name == "remainder"]
    if len(fitted) != 1 or any(branch != "drop" for branch in remainder):
        return None
    _, branch, selected = fitted[0]
    position = {name: at for at, name in enumerate(names)}
    if not isinstance(selected, list | tuple) or not all(isinstance(c, str) and c in position for c in selected):
        return None
    steps = _numeric_steps(branch)
    if steps is None:
        return None
    mean, scale = steps
    return RowPredictor(
        columns=np.array([position[c] for c in selected], dtype=np.intp),
        mean=mean,
        scale=scale,
        estimator=estimator,
        linear=_linear_kind(estimator),
    )
