"""The traffic simulator's rows and true labels, drawn from a model's training data and changed by a scenario.

Pure: pandas and numpy, no Django. `generate` makes every request's input row and its ground truth up front, from
one seeded generator, so the same settings always send the same traffic; `sandbox.monitoring.runners` sends them
through the endpoint.

What each scenario changes, from request `drift_from` on, at full strength at once (sudden) or growing linearly
over `ramp` requests (gradual), so that strength s goes from 0 to 1:

- data drift (P(x) moves): a numeric feature is shifted by s * k reference standard deviations and/or rescaled
  around its mean by 1 + s * (factor - 1); a categorical feature takes, with probability s, a value drawn from the
  chosen category shares instead of its own. The label stays the row's own.
- concept drift (P(y | x) moves): where the chosen feature is above its reference median (for a categorical
  feature, where it takes its most frequent value), the label swaps, with probability s, between the two most
  frequent classes. The inputs do not change at all, so no input drift test can see it: only accuracy can.
- label drift (P(y) moves): rows are drawn class by class, so the class balance moves from the training data's
  towards the chosen shares by s.
- nulls (a broken upstream column, used by drills): with probability s the column arrives empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_REQUESTS = 10_000
MAX_RATE = 200.0


class ScenarioError(ValueError):
    """The scenario cannot be applied to this model's data; the message says why, for the learner."""


@dataclass(frozen=True)
class Plan:
    scenario: str = "none"
    onset: str = "sudden"
    drift_from: int = 0
    ramp: int = 0
    settings: dict = field(default_factory=dict)
    requests: int = 100
    seed: int = 0


@dataclass(frozen=True)
class Traffic:
    rows: pd.DataFrame
    """One input row per request, in the model's input columns."""
    labels: np.ndarray
    """The true label of each request, revealed after the label delay."""
    strength: np.ndarray
    """How strongly the scenario applied to each request, 0 to 1."""


def strength(plan: Plan) -> np.ndarray:
    at = np.arange(plan.requests, dtype=float)
    if plan.scenario == "none" and not plan.settings.get("nulls"):
        return np.zeros(plan.requests)
    started = at >= plan.drift_from
    if plan.onset == "gradual" and plan.ramp > 0:
        grown = np.clip((at - plan.drift_from + 1) / plan.ramp, 0.0, 1.0)
        return np.where(started, grown, 0.0)
    return started.astype(float)


def two_most_frequent(labels: pd.Series) -> list:
    counts = labels.value_counts()
    if len(counts) < 2:
        raise ScenarioError("Concept drift swaps labels between two classes, and this data has only one.")
    return list(counts.index[:2])


def _column(frame: pd.DataFrame, name: str, inputs: list[str]) -> pd.Series:
    if name not in inputs:
        raise ScenarioError(f"{name!r} is not an input of the model; its inputs are {', '.join(inputs)}.")
    return frame[name]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _draw_rows(frame: pd.DataFrame, target: str, plan: Plan, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which training row each request starts from: uniform, or class by class under label drift."""
    n = len(frame)
    if plan.scenario != "label":
        return rng.integers(0, n, size=plan.requests)
    labels = frame[target]
    classes = list(labels.value_counts(sort=False).index)
    by_class = {value: np.flatnonzero((labels == value).to_numpy()) for value in classes}
    base = np.array([len(by_class[value]) / n for value in classes])
    wanted = plan.settings.get("balance") or {}
    keyed = {str(value): value for value in classes}
    unknown = [name for name in wanted if str(name) not in keyed]
    if unknown:
        raise ScenarioError(
            f"{', '.join(map(repr, unknown))} is not a class of this data; its classes are "
            f"{', '.join(map(str, classes))}."
        )
    try:
        target_shares = np.array([float(wanted.get(str(value), 0.0)) for value in classes])
    except (TypeError, ValueError):
        raise ScenarioError("Each class's share is a number between 0 and 1.") from None
    if (target_shares < 0).any() or target_shares.sum() <= 0:
        raise ScenarioError("Give at least one class a share above 0, e.g. 0.8 for the class that should dominate.")
    target_shares = target_shares / target_shares.sum()
    picks = np.empty(plan.requests, dtype=int)
    # Each request draws its class from the balance s of the way from the training data's to the chosen one.
    shares = (1 - s)[:, None] * base[None, :] + s[:, None] * target_shares[None, :]
    cumulative = shares.cumsum(axis=1)
    draws = rng.random(plan.requests)[:, None]
    chosen = np.minimum((draws > cumulative).sum(axis=1), len(classes) - 1)
    for at, value in enumerate(classes):
        where = np.flatnonzero(chosen == at)
        picks[where] = rng.choice(by_class[value], size=len(where))
    return picks


def _data_drift(
    rows: pd.DataFrame, reference: pd.DataFrame, inputs: list[str], settings: dict, s: np.ndarray,
    rng: np.random.Generator,
) -> None:  # fmt: skip
    for name, amount in (settings.get("shift") or {}).items():
        column = _column(reference, name, inputs)
        if not _is_numeric(column):
            raise ScenarioError(f"{name!r} is not numeric, so it cannot be shifted; change its categories instead.")
        spread = float(column.std()) or 1.0
        rows[name] = rows[name].astype(float) + s * float(amount) * spread
    for name, factor in (settings.get("scale") or {}).items():
        column = _column(reference, name, inputs)
        if not _is_numeric(column):
            raise ScenarioError(f"{name!r} is not numeric, so it cannot be rescaled.")
        centre = float(column.mean())
        rows[name] = centre + (rows[name].astype(float) - centre) * (1 + s * (float(factor) - 1))
    for name, shares in (settings.get("categories") or {}).items():
        _column(reference, name, inputs)
        if not shares:
            continue
        values = list(shares)
        weights = np.array([float(shares[value]) for value in values])
        if (weights < 0).any() or weights.sum() <= 0:
            raise ScenarioError(f"The shares of {name!r}'s categories are numbers above 0.")
        weights = weights / weights.sum()
        redraw = rng.random(len(rows)) < s
        drawn = rng.choice(len(values), size=int(redraw.sum()), p=weights)
        column = rows[name].astype(object).to_numpy(copy=True)
        column[redraw] = [values[at] for at in drawn]
        if _is_numeric(reference[name]):
            column = pd.to_numeric(pd.Series(column), errors="coerce").to_numpy()
        rows[name] = column


def _nulls(rows: pd.DataFrame, reference: pd.DataFrame, inputs: list[str], settings: dict, s: np.ndarray, rng) -> None:
    for name, share in (settings.get("nulls") or {}).items():
        _column(reference, name, inputs)
        empty = rng.random(len(rows)) < s * float(share)
        if _is_numeric(reference[name]):
            rows[name] = rows[name].astype(float).where(~empty)
        else:
            column = rows[name].astype(object).to_numpy(copy=True)
            column[empty] = None
            rows[name] = column


def _keep_types(rows: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Whole-number columns stay whole numbers after a shift, as the model's signature types them."""
    for name in rows.columns:
        if pd.api.types.is_integer_dtype(reference[name]) and _is_numeric(rows[name]):
            rounded = np.round(rows[name].astype(float))
            rows[name] = rounded.astype("Int64") if rounded.isna().any() else rounded.astype("int64")
    return rows


def generate(frame: pd.DataFrame, *, target: str, inputs: list[str], plan: Plan) -> Traffic:
    """Every request's input row and true label for `plan`, drawn from the training data `frame`."""
    if plan.requests < 1 or plan.requests > MAX_REQUESTS:
        raise ScenarioError(f"Send between 1 and {MAX_REQUESTS:,} requests.")
    if len(frame) == 0:
        raise ScenarioError("The model's training data has no rows to draw traffic from.")
    missing = [name for name in [*inputs, target] if name not in frame.columns]
    if missing:
        raise ScenarioError(f"The training data lacks {', '.join(missing)}.")
    rng = np.random.default_rng(plan.seed)
    s = strength(plan)
    picks = _draw_rows(frame, target, plan, s, rng)
    rows = frame.iloc[picks][inputs].reset_index(drop=True)
    labels = frame[target].to_numpy()[picks].copy()
    reference = frame[inputs]
    if plan.scenario == "data":
        _data_drift(rows, reference, inputs, plan.settings, s, rng)
    elif plan.scenario == "concept":
        name = plan.settings.get("feature") or ""
        column = _column(reference, name, inputs)
        if _is_numeric(column):
            region = rows[name].astype(float).to_numpy() > float(column.median())
        else:
            region = (rows[name] == column.mode().iloc[0]).to_numpy()
        first, second = two_most_frequent(frame[target])
        swap = region & (rng.random(plan.requests) < s)
        was_first, was_second = labels == first, labels == second
        labels[swap & was_first] = second
        labels[swap & was_second] = first
    elif plan.scenario not in ("none", "label"):
        raise ScenarioError(f"There is no scenario called {plan.scenario!r}.")
    if plan.settings.get("nulls"):
        _nulls(rows, reference, inputs, plan.settings, s, rng)
    return Traffic(rows=_keep_types(rows, frame), labels=labels, strength=s)


def records(rows: pd.DataFrame) -> list[dict]:
    """The rows as JSON records: numpy values as Python's, a missing value as null."""
    out = []
    columns = list(rows.columns)
    for values in rows.itertuples(index=False, name=None):
        record = {}
        for name, value in zip(columns, values, strict=True):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                record[name] = None
            elif hasattr(value, "item"):
                record[name] = value.item()
            else:
                record[name] = value
        out.append(record)
    return out


def plain(value: object) -> object:
    """A label as JSON has it."""
    return value.item() if hasattr(value, "item") else value
