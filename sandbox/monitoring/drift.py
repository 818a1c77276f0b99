"""The drift detector: is the current window of a column distributed like the reference, and why that test?

A pure module over pandas, numpy and scipy (no Django), so that the monitoring jobs, the report pages and
`manage.py drift_report` all call the same functions, and a data scientist can read it alone.

Its defaults follow Evidently 0.7.23's `DataDriftPreset` (src/evidently/presets/drift.py), rule for rule, read
from Evidently's own source so that a learner who later runs Evidently gets the same verdicts:

- Column typing of a plain DataFrame, `infer_column_type` in src/evidently/core/datasets.py: floats are
  numeric; integers are numeric only with more than 10 distinct values (`INTEGER_CARDINALITY_LIMIT`), so a
  0/1 or small-integer column is *categorical*; booleans, categories and strings are categorical (Evidently
  calls a string column with more distinct values than half its rows "text" and tests it with a classifier,
  which this detector does not have: it tests such a column as categorical). Evidently types each column
  from the *current* dataset (`Context.data_definition` in src/evidently/core/report.py is that of
  `_input_data[0]`, the current data), and so does `dataset_drift`. Dates are not tested
  (`DataDriftPreset.generate_metrics` takes numerical, categorical and text columns only).
- Cleaning, `get_one_column_drift` in src/evidently/legacy/calculations/data_drift.py: each column on its own
  has ±inf turned into NaN and its NaN dropped, in both windows; a column left empty in either window is an
  error there ("An empty column 'x' was provided for drift calculation..."), and a `DriftInputError` here.
- The default test, `_get_default_stattest` in src/evidently/legacy/calculations/stattests/registry.py: the
  reference rows that count towards the 1,000 are those left after cleaning (`reference_data.shape[0]`),
  and the distinct values are counted over both windows together without NaN
  (`pd.concat([reference_data, current_data]).nunique()`). With at most 1,000 reference rows: a numeric
  column with more than 5 distinct values gets the two-sample Kolmogorov-Smirnov test, one with 3 to 5 the
  chi-square test, one with at most 2 the Z-test for proportions; a categorical column gets chi-square with
  more than 2 distinct values and the Z-test otherwise. With more reference rows: the normed Wasserstein
  distance for a numeric column with more than 5 distinct values, the Jensen-Shannon distance otherwise.
- The tests, each in src/evidently/legacy/calculations/stattests/: `ks_stattest.py` (scipy's `ks_2samp`,
  drift when p <= threshold: the one p-value test that drifts *at* its threshold), `chisquare_stattest.py`
  (observed current counts against reference counts scaled to the current size, over the categories of both
  windows, drift when p < threshold), `z_stattest.py` (the first of the sorted values against the other,
  pooled two-proportion Z, two-sided, drift when p < threshold; p = 1 when both windows hold the same single
  value), `wasserstein_distance_norm.py` (scipy's `wasserstein_distance` over `max(np.std(reference), 0.001)`,
  population std, drift when >= threshold), `jensenshannon.py` and `psi.py` with `get_binned_data` in
  `utils.py` (a numeric column with more than 20 distinct reference values is binned on
  `np.histogram_bin_edges(both windows, "sturges")`, anything else counted value by value; shares are of each
  window's rows; PSI puts a small share in place of an empty bin, Jensen-Shannon does not; scipy's
  `jensenshannon` in natural log; both drift when >= threshold). Default thresholds: 0.05 for the p-value
  tests, 0.1 for the three distances (PSI's too: `psi_stat_test.default_threshold`).
- The dataset, `get_dataset_drift` in src/evidently/legacy/calculations/data_drift.py: drifted when the share
  of drifted columns is *at least* the drift share (`share_drifted_columns >= drift_share`), so 2 drifted
  columns of 4 at the default 0.5 is dataset drift.

What the defaults cost, measured here on two samples of one distribution (tests/unit/test_drift_detector.py):
KS and the Z-test are two-sample tests at their level, flagging about 5 % of such columns. Evidently's
chi-square is not: it takes the reference shares as exact (a goodness-of-fit test of the current counts), so
the reference's own sampling noise inflates it, and two windows of 1,000 rows flag about a third of identical
categorical columns (about 8-13 % with a current window a fifth to two fifths of a small reference). The normed
Wasserstein distance at 0.1 is no test at a level either: against 3,000 reference rows it flagged about 15 % of
identical normal columns with 300 current rows, and 1-3 % with 1,000. Both are kept, since agreeing with
Evidently is the point; a learner can choose another test per column.

Where this detector is stricter than Evidently: a test that cannot apply to a column is refused with a reason
(Evidently would run a Z-test on three values, or a chi-square on a thousand distinct floats, if asked), and
p-values are computed with the survival function (`norm.sf`) instead of `1 - cdf`, which only differs below
1e-16. The numeric work is vectorised: each numeric column is sorted once, and the Wasserstein distance,
distinct counts and the chart's histogram are read from the sorted arrays (the same arithmetic as scipy's
`_cdf_distance`, without its two argsorts).
"""

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

TESTS = ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")
P_VALUE_TESTS = frozenset({"ks", "chisquare", "z"})
DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}
TEST_NAMES = {
    "ks": "the two-sample Kolmogorov-Smirnov test",
    "chisquare": "the chi-square test",
    "z": "the Z-test for two proportions",
    "wasserstein": "the Wasserstein distance normed by the reference standard deviation",
    "jensenshannon": "the Jensen-Shannon distance",
    "psi": "the population stability index (PSI)",
}
NUM, CAT = "num", "cat"

REFERENCE_ROWS_LIMIT = 1000
"""Up to this many reference rows the default tests are p-value tests; above it, distances (Evidently)."""
FEW_VALUES = 5
"""A numeric column with at most this many distinct values is tested like a categorical one (Evidently)."""
TWO_VALUES = 2
INTEGER_CARDINALITY_LIMIT = 10
"""An integer column with at most this many distinct values is categorical (Evidently's own constant)."""
COUNTED_VALUES = 20
"""PSI and Jensen-Shannon count a numeric column value by value up to this many distinct reference values,
and bin it above (`get_binned_data`); the chart draws one bar a value up to this many too."""
CHART_CATEGORIES = 20
"""A categorical chart shows the most frequent categories and puts the rest in one "other" bar."""
OTHER = "other"
WASSERSTEIN_MIN_NORM = 0.001


class DriftInputError(ValueError):
    """Input the detector cannot test, with a message written for the learner: what is wrong and what to do."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: what was tested, the score, the verdict, and one sentence saying why this test.

    `reference_rows` and `current_rows` count the rows that were tested, after missing values were dropped.
    `bins` are shared by both windows so that the two distributions can be drawn on one axis: bin edges for a
    numeric column (one more than the shares), category labels for a categorical one.
    """

    column: str
    kind: str
    test: str
    score: float
    threshold: float
    drifted: bool
    chosen: str
    reason: str
    reference_rows: int
    current_rows: int
    bins: list
    reference_share: list[float]
    current_share: list[float]

    @property
    def lower_is_drift(self) -> bool:
        """A p-value drifts when it is small; a distance when it is large."""
        return self.test in P_VALUE_TESTS

    def as_dict(self) -> dict:
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "chosen": self.chosen,
            "reason": self.reason,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "bins": list(self.bins),
            "reference_share": list(self.reference_share),
            "current_share": list(self.current_share),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ColumnDrift":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class DatasetDrift:
    """Every column's test and the dataset's verdict: drifted when `share_drifted >= drift_share`.

    `skipped` names the columns that were not tested and why (dates, as Evidently leaves them out too).
    """

    columns: list[ColumnDrift]
    share_drifted: float
    drift_share: float
    dataset_drift: bool
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return [column.column for column in self.columns if column.drifted]

    def as_json(self) -> dict:
        """The shape `manage.py drift_report --format json` prints."""
        return {
            "columns": [
                {
                    "column": c.column,
                    "test": c.test,
                    "score": c.score,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                }
                for c in self.columns
            ],
            "dataset": {
                "share_drifted": self.share_drifted,
                "drift_share": self.drift_share,
                "dataset_drift": self.dataset_drift,
            },
        }

    def as_dict(self) -> dict:
        """Everything, JSON-safe, for storing (`DriftReport.result`); `from_dict` reads it back."""
        return {
            "columns": [column.as_dict() for column in self.columns],
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DatasetDrift":
        return cls(
            columns=[ColumnDrift.from_dict(column) for column in data["columns"]],
            share_drifted=data["share_drifted"],
            drift_share=data["drift_share"],
            dataset_drift=data["dataset_drift"],
            skipped=dict(data.get("skipped", {})),
        )


# --- typing -------------------------------------------------------------------------------------------------


_NUMBERS = frozenset({"integer", "floating", "mixed-integer-float", "decimal"})


def _plain_numbers(series: pd.Series) -> pd.Series:
    """A column of Python numbers held as objects (JSON read record by record can give one) as numbers."""
    if pd.api.types.is_object_dtype(series.dtype) and pd.api.types.infer_dtype(series, skipna=True) in _NUMBERS:
        return pd.to_numeric(series)
    return series


def _kind_and_why(series: pd.Series, name: str) -> tuple[str, str]:
    """Evidently's `infer_column_type`, with the words that explain it in a reason. (Evidently leaves a column of
    numbers held as objects untested; here it is typed as the numbers it holds.)"""
    series = _plain_numbers(series)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CAT, "True/false"
    if isinstance(dtype, pd.CategoricalDtype):
        return CAT, "Categorical"
    if pd.api.types.is_float_dtype(dtype):
        return NUM, "Numeric"
    if pd.api.types.is_integer_dtype(dtype):
        distinct = int(series.nunique())
        if distinct <= INTEGER_CARDINALITY_LIMIT:
            return CAT, (
                f"Categorical (whole numbers with at most {INTEGER_CARDINALITY_LIMIT} distinct values in the "
                "current window)"
            )
        return NUM, "Numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DriftInputError(
            f"Column {name!r} holds dates or durations; drift is tested on numbers and categories, so leave it "
            "out or turn it into a number first (for example the hour of the day)."
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise DriftInputError(f"Column {name!r} holds complex numbers, which no drift test here can compare.")
    # Strings (pandas' str dtype or objects): Evidently calls a string column with many distinct values "text"
    # and tests it with a classifier; here every string column is tested on its category counts.
    return CAT, "Categorical"


def column_kind(series: pd.Series) -> str:
    """The kind of a column, "num" or "cat", as Evidently types one of a plain DataFrame (integers with at most 10
    distinct values are categorical; see the module's docstring). `dataset_drift` types each column from the
    current window."""
    return _kind_and_why(series, str(series.name))[0]


# --- preparing a column -------------------------------------------------------------------------------------


def _rows(count: int) -> str:
    return f"{count:,} row{'s' if count != 1 else ''}"


def _reference_rows(count: int) -> str:
    return f"{count:,} reference row{'s' if count != 1 else ''}"


@dataclass
class _Sample:
    """One column of both windows, cleaned, in the form its tests read."""

    name: str
    kind: str
    why: str
    reference_rows: int
    current_rows: int
    distinct: int  # over both windows, without missing values
    reference_distinct: int
    # numeric: the values (unsorted reference for its std, sorted for everything else) and both merged
    reference: np.ndarray | None = None
    reference_sorted: np.ndarray | None = None
    current_sorted: np.ndarray | None = None
    merged: np.ndarray | None = None
    in_reference: np.ndarray | None = None  # merged position holds a reference value
    # categorical: counts per category, aligned
    labels: list | None = None
    reference_counts: np.ndarray | None = None
    current_counts: np.ndarray | None = None


def _empty_error(name: str, window: str, total: int) -> DriftInputError:
    if total == 0:
        return DriftInputError(f"The {window} window is empty: column {name!r} has no rows to test.")
    return DriftInputError(
        f"Column {name!r} has no values in the {window} window (all {_rows(total)} are missing), so its drift "
        "cannot be tested; Evidently refuses it too. Fix the column upstream, or leave it out of the test."
    )


def _numeric_values(series: pd.Series, name: str, window: str) -> np.ndarray:
    series = _plain_numbers(series)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        if series.dropna().empty:
            raise _empty_error(name, window, len(series))
        raise DriftInputError(
            f"Column {name!r} is numeric in one window but holds text in the {window} window "
            f"(for example {series.dropna().iloc[0]!r}), so the two cannot be compared; check the file."
        )
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise _empty_error(name, window, len(series))
    return values


def _sorted_distinct(values: np.ndarray) -> int:
    return 1 + int(np.count_nonzero(values[1:] != values[:-1])) if values.size else 0


def _numeric_sample(reference: pd.Series, current: pd.Series, name: str, why: str) -> _Sample:
    ref = _numeric_values(reference, name, "reference")
    cur = _numeric_values(current, name, "current")
    ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)
    # Merge the two sorted windows in one pass: a reference value's place is its own rank plus the number of
    # current values at or below it.
    place = np.arange(ref_sorted.size) + np.searchsorted(cur_sorted, ref_sorted, side="right")
    in_reference = np.zeros(ref_sorted.size + cur_sorted.size, dtype=bool)
    in_reference[place] = True
    merged = np.empty(in_reference.size)
    merged[in_reference] = ref_sorted
    merged[~in_reference] = cur_sorted
    return _Sample(
        name=name,
        kind=NUM,
        why=why,
        reference_rows=ref.size,
        current_rows=cur.size,
        distinct=_sorted_distinct(merged),
        reference_distinct=_sorted_distinct(ref_sorted),
        reference=ref,
        reference_sorted=ref_sorted,
        current_sorted=cur_sorted,
        merged=merged,
        in_reference=in_reference,
    )


def _category_counts(series: pd.Series, name: str, window: str) -> pd.Series:
    values = series.dropna()
    if values.empty:
        raise _empty_error(name, window, len(series))
    counts = values.value_counts(sort=False)
    counts = counts[counts > 0]  # a pandas Categorical also counts its unused categories
    counts.index = counts.index.astype(object)
    return counts


def _categorical_sample(reference: pd.Series, current: pd.Series, name: str, why: str) -> _Sample:
    ref = _category_counts(reference, name, "reference")
    cur = _category_counts(current, name, "current")
    both = pd.concat([ref.rename("reference"), cur.rename("current")], axis=1, sort=False).fillna(0)
    return _Sample(
        name=name,
        kind=CAT,
        why=why,
        reference_rows=int(ref.sum()),
        current_rows=int(cur.sum()),
        distinct=len(both),
        reference_distinct=len(ref),
        labels=list(both.index),
        reference_counts=both["reference"].to_numpy(dtype="float64"),
        current_counts=both["current"].to_numpy(dtype="float64"),
    )


def _value_counts(sample: _Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values of both windows (sorted) and each window's count of each."""
    if sample.kind == CAT:
        return np.asarray(sample.labels, dtype=object), sample.reference_counts, sample.current_counts
    merged = sample.merged
    starts = np.flatnonzero(np.r_[True, merged[1:] != merged[:-1]])
    from_reference = np.add.reduceat(sample.in_reference.astype(np.int64), starts)
    sizes = np.diff(np.r_[starts, merged.size])
    return merged[starts], from_reference.astype("float64"), (sizes - from_reference).astype("float64")


# --- the tests ----------------------------------------------------------------------------------------------


# scipy's ks_2samp under its axis and nan_policy decorator, which costs more than the test itself at 1,000 rows
# (about 0.5 ms a call here); the arrays it gets here are clean, one-dimensional and sorted already.
_ks_2samp = getattr(stats.ks_2samp, "__wrapped__", stats.ks_2samp)


def _ks(sample: _Sample) -> float:
    return float(_ks_2samp(sample.reference_sorted, sample.current_sorted).pvalue)


def _chisquare(sample: _Sample) -> float:
    _, ref, cur = _value_counts(sample)
    if ref.size < 2:
        return 1.0  # one value in both windows: nothing can differ (scipy's answer would be NaN, no drift)
    expected = ref * (sample.current_rows / sample.reference_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A category the reference never had is expected 0 times: its term is infinite and p is 0.
        statistic = float(np.sum((cur - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, ref.size - 1))


def _first_value(labels: np.ndarray) -> object:
    try:
        return sorted(labels)[0]
    except TypeError:  # values of several types: sort by type, then by text
        return sorted(labels, key=lambda value: (type(value).__name__, str(value)))[0]


def _z(sample: _Sample) -> float:
    labels, ref, cur = _value_counts(sample)
    if labels.size == 1:
        return 1.0  # both windows hold the same single value
    first = _first_value(labels)
    at = next(i for i, label in enumerate(labels) if label == first)
    n1, n2 = sample.reference_rows, sample.current_rows
    p1, p2 = (n1 - ref[at]) / n1, (n2 - cur[at]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


def _wasserstein(sample: _Sample) -> float:
    merged, in_reference = sample.merged, sample.in_reference
    # Each window's empirical CDF just after each merged value, integrated over the gaps between them
    # (scipy's _cdf_distance with p=1; at tied values the gap is 0, so counting ties in order is exact).
    ref_cdf = np.cumsum(in_reference[:-1]) / sample.reference_rows
    cur_cdf = np.cumsum(~in_reference[:-1]) / sample.current_rows
    distance_ = float(np.dot(np.abs(ref_cdf - cur_cdf), np.diff(merged)))
    return distance_ / max(float(np.std(sample.reference)), WASSERSTEIN_MIN_NORM)


def _sturges_edges(sample: _Sample) -> np.ndarray:
    return np.histogram_bin_edges(sample.merged, bins="sturges")


def _histogram(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's counts for these edges (the last bin closed), read off sorted values."""
    at = np.searchsorted(sorted_values, edges, side="left")
    at[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(at).astype("float64")


def _binned_shares(sample: _Sample) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's `get_binned_data`: Sturges bins for a numeric column with more than 20 distinct reference
    values, otherwise each value of both windows; shares are of each window's rows."""
    if sample.kind == NUM and sample.reference_distinct > COUNTED_VALUES:
        edges = _sturges_edges(sample)
        ref = _histogram(sample.reference_sorted, edges)
        cur = _histogram(sample.current_sorted, edges)
    else:
        _, ref, cur = _value_counts(sample)
    return ref / sample.reference_rows, cur / sample.current_rows


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """PSI's stand-in for an empty bin (`get_binned_data(..., feel_zeroes=True)`): a millionth of the smallest
    share when that is at most 0.0001, else 0.0001."""
    smallest = shares[shares != 0].min()
    filled = shares.copy()
    filled[filled == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return filled


def _jensenshannon(sample: _Sample) -> float:
    ref, cur = _binned_shares(sample)
    return float(distance.jensenshannon(ref, cur))


def _psi(sample: _Sample) -> float:
    ref, cur = _binned_shares(sample)
    ref, cur = _fill_zeroes(ref), _fill_zeroes(cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


_SCORES = {
    "ks": _ks,
    "chisquare": _chisquare,
    "z": _z,
    "wasserstein": _wasserstein,
    "jensenshannon": _jensenshannon,
    "psi": _psi,
}


def _drifted(test: str, score: float, threshold: float) -> bool:
    if test == "ks":
        return score <= threshold  # ks_stattest.py: `p_value <= threshold`
    if test in P_VALUE_TESTS:
        return score < threshold  # chisquare_stattest.py, z_stattest.py: `p_value < threshold`
    return score >= threshold  # the distances: `value >= threshold`


def _rule(test: str, threshold: float) -> str:
    if test == "ks":
        return f"drift when p ≤ {threshold:g}"
    if test in P_VALUE_TESTS:
        return f"drift when p < {threshold:g}"
    return f"drift when it is at least {threshold:g}"


# --- choosing the test --------------------------------------------------------------------------------------


def _default_for(kind: str, reference_rows: int, distinct: int) -> tuple[str, str]:
    """Evidently's `_get_default_stattest`: the test, and the words that say why."""
    values = f"{distinct:,} distinct value{'s' if distinct != 1 else ''}"
    if reference_rows <= REFERENCE_ROWS_LIMIT:
        rows = f"{_reference_rows(reference_rows)} (at most {REFERENCE_ROWS_LIMIT:,})"
        if kind == NUM and distinct > FEW_VALUES:
            return "ks", f"{values} and {rows}"
        if distinct > TWO_VALUES:
            few = f" (at most {FEW_VALUES})" if kind == NUM else ""
            return "chisquare", f"only {values}{few} and {rows}" if kind == NUM else f"{values} and {rows}"
        return "z", f"only {values} and {rows}"
    rows = f"{_reference_rows(reference_rows)} (more than {REFERENCE_ROWS_LIMIT:,})"
    if kind == NUM and distinct > FEW_VALUES:
        return "wasserstein", f"{values} and {rows}"
    few = f" (at most {FEW_VALUES})" if kind == NUM else ""
    return "jensenshannon", f"{values}{few} and {rows}"


def _refusal(test: str, sample: _Sample) -> str | None:
    """Why `test` cannot apply to this column, or None when it can."""
    if test in ("ks", "wasserstein") and sample.kind == CAT:
        return (
            f"{TEST_NAMES[test].capitalize()} compares numbers, and column {sample.name!r} is categorical; "
            "choose chisquare, z, jensenshannon or psi for it."
        )
    if test == "z" and sample.distinct > TWO_VALUES:
        return (
            f"The Z-test compares two proportions, so it needs a column with at most two distinct values, and "
            f"{sample.name!r} has {sample.distinct}; choose chisquare (categories) or ks (numbers) instead."
        )
    if test == "chisquare" and sample.kind == NUM and sample.distinct > COUNTED_VALUES:
        return (
            f"The chi-square test counts each value as a category, and numeric column {sample.name!r} has "
            f"{sample.distinct:,} distinct values (at most {COUNTED_VALUES} can be counted); choose ks, "
            "wasserstein, jensenshannon or psi, which bin the numbers."
        )
    return None


def _check_threshold(test: str, threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
        raise DriftInputError(f"The threshold for {test} must be a number, not {threshold!r}.")
    threshold = float(threshold)
    if test in P_VALUE_TESTS and not 0 < threshold < 1:
        raise DriftInputError(f"{test} gives a p-value, so its threshold must be between 0 and 1, not {threshold:g}.")
    if test not in P_VALUE_TESTS and threshold <= 0:
        raise DriftInputError(f"{test} gives a distance, so its threshold must be above 0, not {threshold:g}.")
    return threshold


def _check_test(test: object) -> str:
    if test not in TESTS:
        raise DriftInputError(f"There is no drift test named {test!r}; choose one of {', '.join(TESTS)}.")
    return test


def default_test(reference: pd.Series, kind: str, current: pd.Series | None = None) -> tuple[str, float, str]:
    """Evidently's default test for a column: (test, threshold, reason).

    Distinct values are counted over both windows when `current` is given (as Evidently does), over the
    reference alone otherwise; only the reference's non-missing rows count towards the 1,000.
    """
    if kind not in (NUM, CAT):
        raise DriftInputError(f'A column\'s kind is "num" or "cat", not {kind!r}.')
    name = str(reference.name)
    current = reference.iloc[:0] if current is None else current
    if kind == NUM:
        values = [_numeric_values(reference, name, "reference")]
        if len(current):
            values.append(_numeric_values(current, name, "current"))
        distinct = int(pd.unique(np.concatenate(values)).size)
        rows = values[0].size
        why = "Numeric"
    else:
        values = pd.concat([reference, current]).dropna()
        distinct = int(values.nunique())
        rows = int(reference.notna().sum())
        if rows == 0:
            raise _empty_error(name, "reference", len(reference))
        why = "Categorical"
    test, because = _default_for(kind, rows, distinct)
    threshold = DEFAULT_THRESHOLDS[test]
    return test, threshold, f"{why} with {because}, so {TEST_NAMES[test]}: {_rule(test, threshold)}."


# --- the chart ----------------------------------------------------------------------------------------------


def _chart(sample: _Sample) -> tuple[list, list[float], list[float]]:
    """Shared bins for drawing both windows on one axis: edges for numbers, labels for categories."""
    if sample.kind == NUM:
        if sample.distinct <= COUNTED_VALUES:
            values, ref, cur = _value_counts(sample)
            # One bar per value: edges half-way between neighbouring values.
            middles = (values[1:] + values[:-1]) / 2
            half = (values[1] - values[0]) / 2 if values.size > 1 else 0.5
            tail = (values[-1] - values[-2]) / 2 if values.size > 1 else 0.5
            edges = np.r_[values[0] - half, middles, values[-1] + tail]
        else:
            edges = _sturges_edges(sample)
            ref = _histogram(sample.reference_sorted, edges)
            cur = _histogram(sample.current_sorted, edges)
        bins = [float(edge) for edge in edges]
    else:
        ref, cur = sample.reference_counts, sample.current_counts
        order = np.argsort(-(ref / sample.reference_rows + cur / sample.current_rows), kind="stable")
        labels = [str(sample.labels[i]) for i in order]
        ref, cur = ref[order], cur[order]
        if len(labels) > CHART_CATEGORIES:
            keep = CHART_CATEGORIES - 1
            labels = [*labels[:keep], OTHER]
            ref = np.r_[ref[:keep], ref[keep:].sum()]
            cur = np.r_[cur[:keep], cur[keep:].sum()]
        bins = labels
    return (
        bins,
        [float(share) for share in ref / sample.reference_rows],
        [float(share) for share in cur / sample.current_rows],
    )


# --- the detector -------------------------------------------------------------------------------------------


def _sample(reference: pd.Series, current: pd.Series, name: str, kind: str | None) -> _Sample:
    if len(reference) == 0:
        raise DriftInputError(f"The reference window is empty: column {name!r} has no rows to compare against.")
    if len(current) == 0:
        raise DriftInputError(f"The current window is empty: column {name!r} has no rows to test.")
    if kind is None:
        kind, why = _kind_and_why(current, name)
    elif kind == NUM:
        why = "Numeric"
    elif kind == CAT:
        why = "Categorical"
    else:
        raise DriftInputError(f'A column\'s kind is "num" or "cat", not {kind!r}.')
    if kind == NUM:
        return _numeric_sample(reference, current, name, why)
    return _categorical_sample(reference, current, name, why)


def column_drift(
    reference: pd.Series,
    current: pd.Series,
    *,
    test: str | None = None,
    threshold: float | None = None,
    kind: str | None = None,
) -> ColumnDrift:
    """Test one column of the current window against the reference.

    With no `test`, Evidently's default for the column; with one, that test, refused with a reason if it
    cannot apply. With no `threshold`, the test's default. With no `kind`, the column is typed from the
    current window as Evidently types it.
    """
    name = str(current.name if current.name is not None else reference.name)
    sample = _sample(reference, current, name, kind)
    default, because = _default_for(sample.kind, sample.reference_rows, sample.distinct)
    if test is None:
        test, chosen = default, "default"
    else:
        test, chosen = _check_test(test), "chosen"
        refusal = _refusal(test, sample)
        if refusal:
            raise DriftInputError(refusal)
    threshold = DEFAULT_THRESHOLDS[test] if threshold is None else _check_threshold(test, threshold)
    score = _SCORES[test](sample)
    if chosen == "default":
        reason = f"{sample.why} with {because}, so {TEST_NAMES[test]}: {_rule(test, threshold)}."
    else:
        reason = (
            f"You chose {TEST_NAMES[test]} for this column ({sample.why.lower()} with {because}, where Evidently "
            f"would use {TEST_NAMES[default]}): {_rule(test, threshold)}."
        )
    bins, reference_share, current_share = _chart(sample)
    return ColumnDrift(
        column=name,
        kind=sample.kind,
        test=test,
        score=score,
        threshold=threshold,
        drifted=bool(_drifted(test, score, threshold)),
        chosen=chosen,
        reason=reason,
        reference_rows=sample.reference_rows,
        current_rows=sample.current_rows,
        bins=bins,
        reference_share=reference_share,
        current_share=current_share,
    )


def _listing(names: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(str(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") if names else "none"


def _chosen_tests(tests: Mapping[str, object] | None, columns: Sequence[str]) -> dict[str, tuple[str, float | None]]:
    chosen: dict[str, tuple[str, float | None]] = {}
    for column, choice in (tests or {}).items():
        if column not in columns:
            raise DriftInputError(
                f"A test was chosen for column {column!r}, which is not among the columns tested "
                f"({_listing(list(columns))})."
            )
        if isinstance(choice, str):
            test, threshold = choice, None
        elif isinstance(choice, Sequence) and len(choice) == 2:
            test, threshold = choice
        else:
            raise DriftInputError(f"The test for column {column!r} must be a test name and a threshold (or None).")
        chosen[column] = (test, threshold)
    return chosen


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    tests: dict[str, tuple[str, float | None]] | None = None,
    drift_share: float = 0.5,
) -> DatasetDrift:
    """Test every column both windows share (or `columns`), then the dataset: drifted when the share of
    drifted columns is at least `drift_share`. `tests` maps a column to the (test, threshold) the learner
    chose for it; the threshold may be None for the test's default."""
    if isinstance(drift_share, bool) or not isinstance(drift_share, numbers.Real) or not 0 < drift_share <= 1:
        raise DriftInputError(f"The drift share must be a number above 0 and at most 1, not {drift_share!r}.")
    if len(reference.columns) == 0 or len(reference) == 0:
        raise DriftInputError("The reference window is empty: it has no rows to compare against.")
    if len(current.columns) == 0 or len(current) == 0:
        raise DriftInputError("The current window is empty: there are no rows to test.")
    skipped: dict[str, str] = {}
    if columns is None:
        in_current = set(current.columns)
        names = [name for name in reference.columns if name in in_current]
        if not names:
            raise DriftInputError(
                "The two windows have no column in common: the reference has "
                f"{_listing(list(reference.columns))}, the current window has {_listing(list(current.columns))}."
            )
        for name in names:
            dtype = current[name].dtype
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
                skipped[str(name)] = "dates and durations are not tested for drift (Evidently leaves them out too)"
        names = [name for name in names if str(name) not in skipped]
        if not names:
            raise DriftInputError("The only columns the two windows share hold dates, which are not tested.")
    else:
        if not columns:
            raise DriftInputError("No columns were chosen to test.")
        for window, frame in (("reference", reference), ("current", current)):
            missing = [name for name in columns if name not in frame.columns]
            if missing:
                raise DriftInputError(
                    f"Column{'s' if len(missing) > 1 else ''} {_listing(missing)} "
                    f"{'are' if len(missing) > 1 else 'is'} not in the {window} window "
                    f"(it has {_listing(list(frame.columns))})."
                )
        names = list(dict.fromkeys(columns))
    chosen = _chosen_tests(tests, [str(name) for name in names])
    results = []
    for name in names:
        test, threshold = chosen.get(str(name), (None, None))
        results.append(column_drift(reference[name], current[name], test=test, threshold=threshold))
    share = sum(result.drifted for result in results) / len(results)
    return DatasetDrift(
        columns=results,
        share_drifted=share,
        drift_share=float(drift_share),
        dataset_drift=share >= drift_share,
        skipped=skipped,
    )
