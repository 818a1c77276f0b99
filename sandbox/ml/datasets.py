"""Datasets for the sandbox: built-in scikit-learn sets, a synthetic churn table, CSV uploads,
content hashes that identify a version, and column profiles.
"""

import csv
import hashlib
import io

import numpy as np
import pandas as pd

# Re-exported: callers that compute with datasets read the catalog through this module.
from sandbox.ml.catalog import (  # noqa: F401
    BUILTIN,
    CLASSIFICATION,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    REGRESSION,
    TARGET,
)
from sandbox.ml.profiles import MAX_BARS, MAX_BINS, ColumnProfile

MAX_NAME_CHARS = 100
"""The longest column name an upload may have: names are shown on every page that lists columns."""
MAX_LABEL_CHARS = 40
"""A value shown in a profile (most common values, bar labels) is cut to this many characters."""


class CsvProblem(ValueError):
    """An upload that cannot be used; the message names the problem for the learner."""


def load_builtin(name: str) -> pd.DataFrame:
    """A built-in scikit-learn set as one frame whose last column is `target`. Nothing is downloaded."""
    # Imported here: reading or profiling a stored version (the web process) needs no scikit-learn.
    from sklearn import datasets as sk_datasets

    loader = getattr(sk_datasets, BUILTIN[name][0])
    bunch = loader(as_frame=True)
    frame = bunch.frame.copy()
    if "target" not in frame.columns:
        frame[TARGET] = bunch.target
    frame.columns = [str(c) for c in frame.columns]
    return frame


def make_churn(
    *, rows: int = 2000, noise: float = 0.1, churn_rate: float = 0.2, missing_rate: float = 0.02, seed: int = 0
) -> pd.DataFrame:
    """A synthetic customer table whose `churned` column depends on the other columns.

    Shorter tenure, month-to-month contracts, more support calls and higher
    charges raise the churn odds; `noise` flips that share of labels at random;
    the intercept is tuned so that about `churn_rate` of customers churn before that noise.
    """
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(["card", "bank transfer", "invoice"], size=rows, p=[0.5, 0.3, 0.2])
    tenure = rng.gamma(shape=2.0, scale=14.0, size=rows).clip(1, 72).round()
    charges = rng.normal(65, 20, size=rows).clip(15, 130).round(2)
    calls = rng.poisson(1.5, size=rows)
    score = (
        -0.09 * tenure
        + 0.04 * (charges - 65)
        + 0.8 * calls
        + np.select([contract == "month-to-month", contract == "one-year"], [2.0, 0.0], -1.5)
        + 0.6 * (payment == "invoice")
    )
    # Pick the intercept so that the expected share of churners matches churn_rate.
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if (1 / (1 + np.exp(-(score + middle)))).mean() < churn_rate:
            low = middle
        else:
            high = middle
    churned = rng.random(rows) < 1 / (1 + np.exp(-(score + low)))
    flip = rng.random(rows) < noise
    churned = np.where(flip, ~churned, churned)
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls.astype(float),
            "contract": contract,
            "payment_method": payment,
            "churned": churned.astype(int),
        }
    )
    for column in ("tenure_months", "monthly_charges", "payment_method"):
        frame.loc[rng.random(rows) < missing_rate, column] = np.nan
    return frame


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a canonical serialization, so that the same content is the same version.

    Columns are sorted by name and rows by every column, then written as CSV with
    full float precision and the column types, so reordering rows or columns
    changes nothing and any change of a value, a type or a name changes the hash.
    """
    canonical = frame.reindex(sorted(frame.columns), axis=1)
    canonical = canonical.sort_values(list(canonical.columns), kind="mergesort", na_position="last")
    digest = hashlib.sha256()
    digest.update(";".join(f"{c}:{canonical[c].dtype}" for c in canonical.columns).encode())
    digest.update(b"\n")
    digest.update(canonical.to_csv(index=False, float_format="%.17g", lineterminator="\n").encode())
    return digest.hexdigest()


def schema(frame: pd.DataFrame) -> list[dict]:
    return [{"name": str(c), "dtype": str(frame[c].dtype)} for c in frame.columns]


def parse_csv(
    raw: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_rows: int = MAX_ROWS, max_columns: int = MAX_COLUMNS
) -> pd.DataFrame:
    """Read an uploaded CSV with a header row, or raise CsvProblem naming what is wrong."""
    if len(raw) > max_bytes:
        raise CsvProblem(f"The file is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvProblem(f"The file is not UTF-8 text (byte {exc.start} cannot be read).") from None
    if not text.strip():
        raise CsvProblem("The file is empty.")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        if len(header) > max_columns:
            raise CsvProblem(f"The file has {len(header)} columns; the limit is {max_columns}.")
        names = [name.strip() for name in header]
        if any(not name for name in names):
            raise CsvProblem(f"Column {names.index('') + 1} of the header row has no name.")
        long = next((n for n, name in enumerate(names, start=1) if len(name) > MAX_NAME_CHARS), None)
        if long:
            raise CsvProblem(
                f"The name of column {long} is {len(names[long - 1]):,} characters long; the limit is {MAX_NAME_CHARS}."
            )
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise CsvProblem(f"The header names {', '.join(repr(d) for d in duplicates)} more than once.")
        rows = 0
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            rows += 1
            if rows > max_rows:
                raise CsvProblem(f"The file has more than {max_rows:,} rows.")
            if len(row) != len(names):
                raise CsvProblem(f"Row {line_number} has {len(row)} fields, expected {len(names)}.")
    except csv.Error as exc:
        raise CsvProblem(f"The file is not valid CSV: {exc}.") from None
    if rows == 0:
        raise CsvProblem("The file has a header row but no data rows.")
    frame = pd.read_csv(io.StringIO(text), skip_blank_lines=True)
    frame.columns = names
    empty = [name for name in names if frame[name].isna().all()]
    if empty:
        raise CsvProblem(f"Column {empty[0]!r} is empty.")
    return frame


def _bin_count(values: np.ndarray, span: float, max_bins: int) -> int:
    """numpy's "auto" rule (the narrower of Freedman–Diaconis and Sturges bins), capped at `max_bins`.

    Computed here rather than by numpy, which would first build every edge of a rule that asks
    for billions of bins (one far outlier beside a narrow bulk).
    """
    sturges = span / (np.log2(values.size) + 1)
    q75, q25 = np.percentile(values, [75, 25])
    fd = 2 * (q75 - q25) / np.cbrt(values.size)
    width = min(fd, sturges) if fd > 0 else sturges
    return int(min(max_bins, max(1, np.ceil(span / width))))


def histogram(values: np.ndarray, max_bins: int = MAX_BINS) -> list[tuple[float, float, int]]:
    """Bins of the finite values, as (low, high, count): one per whole number when the values are
    whole numbers over a short range, otherwise at most `max_bins` bins of equal width.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [(low, high, int(values.size))]
    span = high - low
    if np.isfinite(span) and span < max_bins and max(-low, high) < 2**52 and np.all(values == np.round(values)):
        edges = np.arange(low - 0.5, high + 1.0)
    elif np.isfinite(span):
        edges = np.linspace(low, high, _bin_count(values, span, max_bins) + 1)
    else:
        # A span wider than a float holds (values near ±1.8e308): equal bins, computed from halves.
        edges = np.linspace(low / 2, high / 2, max_bins + 1) * 2
        edges[0], edges[-1] = low, high
    counts, edges = np.histogram(values, bins=edges)
    return [(float(a), float(b), int(n)) for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)]


def label(value: object) -> str:
    """`value` as a profile shows it: at most MAX_LABEL_CHARS characters, an ellipsis ending a cut one."""
    text = str(value)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _bar_labels(values: object) -> list[str]:
    """Labels for bars, one per value: two long values cut to the same text are told apart by a number."""
    seen: dict[str, int] = {}
    labels = []
    for value in values:
        text = label(value)
        seen[text] = seen.get(text, 0) + 1
        labels.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return labels


def capped_counts(counts: pd.Series, limit: int = MAX_BARS) -> list[tuple[str, int]]:
    """The `limit` largest counts, and the sum of the rest as one "other (N values)" pair."""
    counts = counts.sort_values(ascending=False, kind="mergesort")
    head = counts.head(limit)
    pairs = [(text, int(v)) for text, v in zip(_bar_labels(head.index), head, strict=True)]
    if len(counts) > limit:
        rest = counts.iloc[limit:]
        pairs.append((f"other ({len(rest):,} values)", int(rest.sum())))
    return pairs


def profile(frame: pd.DataFrame) -> list[ColumnProfile]:
    columns = []
    for name in frame.columns:
        series = frame[name]
        numeric = pd.api.types.is_numeric_dtype(series)
        column = ColumnProfile(
            name=str(name),
            dtype=str(series.dtype),
            missing=int(series.isna().sum()),
            unique=int(series.nunique()),
            numeric=numeric,
        )
        if numeric and series.notna().any():
            # Values near the float limit overflow the variance: it is shown as it comes out (inf or nan).
            with np.errstate(over="ignore", invalid="ignore"):
                column.mean, column.std = float(series.mean()), float(series.std())
            column.minimum, column.maximum = float(series.min()), float(series.max())
            column.bins = histogram(series.dropna().to_numpy(dtype=float))
        else:
            counts = series.value_counts()
            column.top = [(label(k), int(v)) for k, v in counts.head(5).items()]
            column.bars = capped_counts(counts)
        columns.append(column)
    return columns


def class_balance(frame: pd.DataFrame, target: str) -> list[tuple[str, int]]:
    """Rows per class in label order; past MAX_BARS classes, the largest ones and one "other" bar."""
    counts = frame[target].value_counts()
    if len(counts) > MAX_BARS:
        return capped_counts(counts)
    counts = counts.sort_index()
    return [(text, int(v)) for text, v in zip(_bar_labels(counts.index), counts, strict=True)]
