"""The validation gate's measurements, as plain functions over a fitted pipeline and DataFrames.

No Django here: the registry's services read the rows and the files and call these.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pandas as pd
from sklearn.metrics import f1_score, r2_score
from sklearn.model_selection import train_test_split

from sandbox.ml.catalog import CLASSIFICATION

# One-row predictions timed for the latency check; the median of these is compared with the limit.
LATENCY_REPEATS = 50


def primary_metric(task: str) -> str:
    """The metric the gate compares versions by: F1 for classification, R² for regression (higher is better)."""
    return "f1" if task == CLASSIFICATION else "r2"


def score(pipeline: Any, x: pd.DataFrame, y: pd.Series, task: str) -> float:
    """The primary metric of `pipeline` on (x, y), averaged as training averages it: binary F1 for two classes
    with the label 1, macro F1 otherwise."""
    predicted = pipeline.predict(x)
    if task != CLASSIFICATION:
        return float(r2_score(y, predicted))
    classes = list(getattr(pipeline, "classes_", []))
    if y.nunique() <= 2 and len(classes) == 2 and 1 in classes:
        return float(f1_score(y, predicted, average="binary", pos_label=1, zero_division=0))
    return float(f1_score(y, predicted, average="macro", zero_division=0))


def test_split(frame: pd.DataFrame, *, target: str, task: str, test_size: float, seed: int) -> tuple:
    """The sealed test split of a run, drawn exactly as `sandbox.ml.training.train` drew it."""
    features, labels = frame.drop(columns=[target]), frame[target]
    stratify = labels if task == CLASSIFICATION else None
    _, x_test, _, y_test = train_test_split(features, labels, test_size=test_size, random_state=seed, stratify=stratify)
    return x_test, y_test


def inputs(frame: pd.DataFrame, signature: list[dict]) -> pd.DataFrame:
    """The columns a version's signature names, in its order; a missing one raises KeyError naming it."""
    names = [column["name"] for column in signature]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise KeyError(f"the rows lack the column{'s' if len(missing) > 1 else ''} {', '.join(missing[:5])}")
    return frame[names]


def signature_difference(candidate: list[dict], reference: list[dict]) -> str:
    """What differs between two input signatures, in words; empty when they are the same."""
    theirs = {column["name"]: column["type"] for column in reference}
    ours = {column["name"]: column["type"] for column in candidate}
    problems = []
    missing = [name for name in theirs if name not in ours]
    extra = [name for name in ours if name not in theirs]
    changed = [
        f"{name} ({theirs[name]} → {ours[name]})" for name in ours if name in theirs and ours[name] != theirs[name]
    ]
    if missing:
        problems.append("missing " + ", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))
    if extra:
        problems.append("new " + ", ".join(extra[:5]) + (" …" if len(extra) > 5 else ""))
    if changed:
        problems.append("changed type " + ", ".join(changed[:5]))
    return "; ".join(problems)


def one_row_latency_ms(pipeline: Any, row: pd.DataFrame, repeats: int = LATENCY_REPEATS) -> float:
    """Median wall time of one one-row prediction, in milliseconds, after one warm-up call."""
    pipeline.predict(row)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pipeline.predict(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
