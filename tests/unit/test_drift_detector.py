"""The drift detector without Evidently: error rates over seeded trials, each test against scipy, Evidently's
rules at the edges, refusals a learner can read, and `manage.py drift_report`.

Agreement with Evidently itself is tests/integration/test_drift_vs_evidently.py.
"""

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from scipy import stats
from scipy.spatial import distance

from sandbox.monitoring.drift import (
    TESTS,
    ColumnDrift,
    DatasetDrift,
    DriftInputError,
    column_drift,
    column_kind,
    dataset_drift,
    default_test,
)

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 100


def _series(values: object, name: str = "x", dtype: object = None) -> pd.Series:
    return pd.Series(values, name=name, dtype=dtype)


# --- error rates ----------------------------------------------------------------------------------------------


def _identical(rng: np.random.Generator, rows: int, *, categories: bool) -> pd.DataFrame:
    columns = {
        "normal": rng.normal(0, 1, rows),
        "skewed": rng.lognormal(0, 1, rows),
        "binary": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
    }
    if categories:
        columns["category"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1])
        columns["small_ints"] = rng.integers(0, 6, rows)
    return pd.DataFrame(columns)


def _flagged(reference_rows: int, current_rows: int, *, categories: bool, seed: int = 12) -> dict[tuple, int]:
    """How many of 100 seeded trials flag each column, two samples of one distribution in each trial."""
    rng = np.random.default_rng(seed)
    flagged: dict[tuple, int] = {}
    for _ in range(TRIALS):
        reference = _identical(rng, reference_rows, categories=categories)
        current = _identical(rng, current_rows, categories=categories)
        for column in dataset_drift(reference, current).columns:
            key = (column.column, column.test)
            flagged[key] = flagged.get(key, 0) + column.drifted
    return flagged


# A p-value test at the 0.05 level flags identical distributions 5 % of the time on average (KS's exact p-values
# a little less): about 5 of 100 trials, and more than 10 less than 1 time in 100 (binomial, P(X > 10) = 1.1 %).
# So a p-value column may count up to 10 here and still be a 5 % test; more would mean it flags identical data
# more often than its level. The distances are not tests at a level: at windows of 1,000 rows they should
# hardly ever reach 0.1, and may flag at most 5.
P_VALUE_BOUND, DISTANCE_BOUND = 10, 5


@pytest.fixture(scope="module")
def small_reference_trials() -> dict[tuple, int]:
    return _flagged(1000, 1000, categories=True)


def test_identical_distributions_are_flagged_at_most_5_percent_of_the_time_per_column(
    small_reference_trials: dict[tuple, int],
) -> None:
    tests = {key: count for key, count in small_reference_trials.items() if key[1] != "chisquare"}
    large = _flagged(5000, 1000, categories=True)
    assert set(tests) == {("normal", "ks"), ("skewed", "ks"), ("binary", "z")}
    assert {test for _, test in large} == {"wasserstein", "jensenshannon"}
    assert all(count <= P_VALUE_BOUND for count in tests.values()), tests
    assert all(count <= DISTANCE_BOUND for count in large.values()), large


def test_evidentlys_chi_square_flags_identical_categories_more_often_than_its_level(
    small_reference_trials: dict[tuple, int],
) -> None:
    # Evidently's chi-square (chisquare_stattest.py) tests the current counts against the reference shares taken
    # as exact, not two samples against each other: the reference's own sampling noise is not allowed for, so
    # the statistic runs about 1 + current/reference times too large. With two windows of 1,000 rows a true
    # 5 % test would flag about 5 of 100; this one flags about 30. Agreeing with Evidently means keeping it.
    assert small_reference_trials[("category", "chisquare")] >= 15
    assert small_reference_trials[("small_ints", "chisquare")] >= 15


@pytest.mark.parametrize(("reference_rows", "test"), [(1000, "ks"), (5000, "wasserstein")])
def test_a_half_standard_deviation_shift_at_1000_rows_is_caught_at_least_95_percent_of_the_time(
    reference_rows: int, test: str
) -> None:
    rng = np.random.default_rng(7)
    caught = 0
    for _ in range(TRIALS):
        result = column_drift(_series(rng.normal(0, 2, reference_rows)), _series(rng.normal(1, 2, 1000)))
        assert result.test == test
        caught += result.drifted
    assert caught >= TRIALS * 0.95


# --- each test against scipy ----------------------------------------------------------------------------------


@pytest.fixture
def numbers() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(0, 1, 700), rng.normal(0.2, 1.3, 450)


def test_ks_is_scipys_two_sample_test(numbers: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = numbers
    result = column_drift(_series(reference), _series(current), test="ks")
    assert result.score == pytest.approx(stats.ks_2samp(reference, current).pvalue, rel=1e-12)


def test_wasserstein_is_scipys_distance_over_the_reference_std(numbers: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = numbers
    # Ties across the windows too, where the merged CDFs must count each value once.
    reference, current = np.round(reference, 1), np.round(current, 1)
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert column_drift(_series(reference), _series(current), test="wasserstein").score == pytest.approx(expected)


def test_wasserstein_of_a_constant_reference_is_normed_by_a_thousandth() -> None:
    result = column_drift(_series([2.0] * 50), _series([2.0] * 30 + [3.0] * 20), test="wasserstein")
    assert result.score == pytest.approx(stats.wasserstein_distance([2.0] * 50, [2.0] * 30 + [3.0] * 20) / 0.001)


def test_chisquare_is_scipys_on_current_counts_against_scaled_reference_counts() -> None:
    reference = _series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    current = _series(["a"] * 30 + ["b"] * 30 + ["c"] * 20)
    expected = stats.chisquare([30, 30, 20], np.array([50, 30, 20]) * 80 / 100).pvalue
    assert column_drift(reference, current, test="chisquare").score == pytest.approx(expected, rel=1e-12)


def test_chisquare_gives_p_zero_for_a_category_the_reference_never_had() -> None:
    result = column_drift(_series(["a", "b"] * 50), _series(["a", "b", "new"] * 20))
    assert (result.test, result.score, result.drifted) == ("chisquare", 0.0, True)


def test_z_is_the_uncorrected_chi_square_of_the_two_by_two_table() -> None:
    reference = _series(["yes"] * 30 + ["no"] * 70)
    current = _series(["yes"] * 45 + ["no"] * 55)
    table = [[30, 70], [45, 55]]
    expected = stats.chi2_contingency(table, correction=False).pvalue
    result = column_drift(reference, current)
    assert result.test == "z"
    assert result.score == pytest.approx(expected, rel=1e-9)


def test_z_gives_p_one_when_both_windows_hold_one_same_value() -> None:
    assert column_drift(_series([0] * 40), _series([0] * 25)).score == 1.0


def test_jensenshannon_is_scipys_over_the_category_shares() -> None:
    reference = _series(["a"] * 600 + ["b"] * 300 + ["c"] * 200)
    current = _series(["a"] * 300 + ["b"] * 300 + ["d"] * 100)
    expected = distance.jensenshannon([600 / 1100, 300 / 1100, 200 / 1100, 0], [300 / 700, 300 / 700, 0, 100 / 700])
    result = column_drift(reference, current)
    assert result.test == "jensenshannon"
    assert result.score == pytest.approx(expected)


def test_jensenshannon_bins_many_numbers_on_sturges_edges_of_both_windows(
    numbers: tuple[np.ndarray, np.ndarray],
) -> None:
    reference, current = numbers
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    expected = distance.jensenshannon(
        np.histogram(reference, edges)[0] / reference.size, np.histogram(current, edges)[0] / current.size
    )
    result = column_drift(_series(reference), _series(current), test="jensenshannon")
    assert result.score == pytest.approx(expected)


def test_psi_by_hand_with_an_empty_category_filled() -> None:
    # Shares: reference a 0.5, b 0.5, c 0; current a 0.25, b 0.5, c 0.25. The empty share becomes 0.0001.
    reference = _series(["a"] * 50 + ["b"] * 50)
    current = _series(["a"] * 25 + ["b"] * 50 + ["c"] * 25)
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.0001 - 0.25) * math.log(0.0001 / 0.25)
    result = column_drift(reference, current, test="psi")
    assert result.score == pytest.approx(expected)
    assert (result.threshold, result.drifted) == (0.1, True)


# --- Evidently's rules at the edges ----------------------------------------------------------------------------


def test_typing_follows_evidentlys_plain_dataframe_rule() -> None:
    assert column_kind(_series([0.0, 1.0, 1.0])) == "num"
    assert column_kind(_series([0, 1, 1])) == "cat"
    assert column_kind(_series(list(range(10)) * 3)) == "cat"
    assert column_kind(_series(list(range(11)) * 3)) == "num"
    assert column_kind(_series([True, False])) == "cat"
    assert column_kind(_series(["a", "b", None])) == "cat"
    assert column_kind(_series(pd.Categorical(["a", "b"]))) == "cat"
    # Numbers held as Python objects (records read one by one) are typed as the numbers they are.
    assert column_kind(_series([0.5, 1.5, None], dtype=object)) == "num"
    assert column_kind(_series(list(range(11)), dtype=object)) == "num"
    with pytest.raises(DriftInputError, match="dates"):
        column_kind(_series(pd.to_datetime(["2026-01-01", "2026-01-02"])))


def test_the_thousand_reference_rows_count_only_non_missing_ones() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 1005)
    assert default_test(_series(values[:1000]), "num")[0] == "ks"
    assert default_test(_series(values[:1001]), "num")[0] == "wasserstein"
    gappy = values.copy()
    gappy[:3], gappy[3:5] = np.nan, np.inf
    test, threshold, reason = default_test(_series(gappy), "num")
    assert (test, threshold) == ("ks", 0.05)
    assert "1,000 reference rows (at most 1,000)" in reason


def test_distinct_values_are_counted_over_both_windows_without_missing_ones() -> None:
    reference = _series([1.5, 2.5, 3.5, 4.5, np.nan] * 20)  # 4 values here
    assert column_drift(reference, _series([1.5, 2.5] * 10)).test == "chisquare"
    assert column_drift(reference, _series([5.5, 6.5] * 10)).test == "ks"  # 6 values over both
    assert column_drift(_series([1.0, 2.0, np.nan] * 10), _series([1.0, np.nan] * 5)).test == "z"


def test_small_integer_columns_are_typed_from_the_current_window() -> None:
    reference = _series(np.arange(600) % 16)  # 16 values: numeric alone
    assert column_drift(reference, _series(np.arange(300) % 16)).test == "ks"
    narrowed = column_drift(reference, _series(np.arange(300) % 8))
    assert (narrowed.kind, narrowed.test) == ("cat", "chisquare")
    assert "whole numbers with at most 10 distinct values in the current window" in narrowed.reason


def test_the_default_test_per_column_and_its_one_sentence_reason() -> None:
    rng = np.random.default_rng(2)
    cases = [
        (rng.normal(0, 1, 800), "ks", "Kolmogorov-Smirnov", "p ≤ 0.05"),
        (rng.integers(0, 4, 800).astype(float), "chisquare", "chi-square", "p < 0.05"),
        (rng.integers(0, 2, 800).astype(float), "z", "Z-test", "p < 0.05"),
        (rng.choice(list("abc"), 800), "chisquare", "chi-square", "p < 0.05"),
        (rng.normal(0, 1, 1200), "wasserstein", "Wasserstein", "at least 0.1"),
        (rng.integers(0, 4, 1200).astype(float), "jensenshannon", "Jensen-Shannon", "at least 0.1"),
        (rng.choice(list("ab"), 1200), "jensenshannon", "Jensen-Shannon", "at least 0.1"),
    ]
    for values, test, words, rule in cases:
        result = column_drift(_series(values), _series(values[:300]))
        assert (result.test, result.chosen) == (test, "default")
        assert words in result.reason
        assert rule in result.reason
        assert result.reason.endswith(".")
        assert ". " not in result.reason  # one sentence
        assert f"{len(values):,} reference rows" in result.reason


def test_missing_and_infinite_values_are_dropped_per_column() -> None:
    rng = np.random.default_rng(4)
    reference, current = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    clean = column_drift(_series(reference), _series(current))
    dirty = column_drift(_series(np.r_[reference, [np.nan, np.inf]]), _series(np.r_[[-np.inf, np.nan], current]))
    assert (dirty.score, dirty.reference_rows, dirty.current_rows) == (clean.score, 300, 200)


def test_a_column_with_no_values_in_a_window_is_refused_as_evidently_refuses_it() -> None:
    with pytest.raises(DriftInputError, match=r"no values in the current window \(all 3 rows are missing\)"):
        column_drift(_series([1.0, 2.0]), _series([np.nan] * 3))
    with pytest.raises(DriftInputError, match="no values in the reference window"):
        dataset_drift(pd.DataFrame({"x": [None, None], "y": [1, 2]}), pd.DataFrame({"x": ["a"], "y": [1]}))


def test_a_dataset_drifts_when_the_drifted_share_reaches_the_drift_share_exactly() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({name: rng.normal(0, 1, 500) for name in "abcd"})
    current = reference.iloc[:300].copy()
    current[["a", "b"]] += 2
    half = dataset_drift(reference, current)
    assert (half.share_drifted, half.dataset_drift) == (0.5, True)
    assert half.drifted_columns == ["a", "b"]
    assert dataset_drift(reference, current, drift_share=0.6).dataset_drift is False


# --- choosing tests, and refusing ----------------------------------------------------------------------------


def test_a_learner_chooses_a_test_and_threshold_per_column() -> None:
    rng = np.random.default_rng(6)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(list("abc"), 500)})
    current = pd.DataFrame({"x": rng.normal(0.1, 1, 400), "c": rng.choice(list("abc"), 400)})
    result = dataset_drift(reference, current, tests={"x": ("psi", 0.2), "c": ("jensenshannon", None)})
    x, c = result.columns
    assert (x.test, x.threshold, x.chosen, x.lower_is_drift) == ("psi", 0.2, "chosen", False)
    assert (c.test, c.threshold, c.chosen) == ("jensenshannon", 0.1, "chosen")
    assert x.reason.startswith("You chose the population stability index (PSI)")
    assert "Evidently would use the two-sample Kolmogorov-Smirnov test" in x.reason
    assert column_drift(reference["x"], current["x"]).lower_is_drift is True


@pytest.mark.parametrize(
    ("reference", "current", "test", "threshold", "message"),
    [
        (["a", "b"] * 10, ["a"] * 5, "ks", None, "compares numbers, and column 'x' is categorical"),
        (["a", "b"] * 10, ["a"] * 5, "wasserstein", None, "choose chisquare, z, jensenshannon or psi"),
        (["a", "b", "c"] * 10, ["a"] * 5, "z", None, "at most two distinct values, and 'x' has 3"),
        (list(np.linspace(0, 1, 30)), [0.0] * 5, "chisquare", None, "has 30 distinct values"),
        ([1.0, 2.0] * 10, [1.0] * 5, "t-test", None, "no drift test named 't-test'; choose one of ks,"),
        ([1.0, 2.0] * 10, [1.0] * 5, "ks", 1.5, "between 0 and 1, not 1.5"),
        ([1.0, 2.0] * 10, [1.0] * 5, "psi", -0.1, "must be above 0"),
        ([1.0, 2.0] * 10, [1.0] * 5, "psi", "high", "must be a number"),
    ],
)
def test_a_test_that_cannot_apply_is_refused_with_the_reason(
    reference: list, current: list, test: str, threshold: object, message: str
) -> None:
    with pytest.raises(DriftInputError, match=message.replace("(", r"\(")):
        column_drift(_series(reference), _series(current), test=test, threshold=threshold)


def test_text_is_refused_by_a_numeric_test_and_a_numeric_column_must_be_numbers_in_both() -> None:
    with pytest.raises(DriftInputError, match="holds text in the reference window"):
        column_drift(_series(["one", "two"]), _series([1.0, 2.0]), kind="num")


def test_empty_windows_and_mismatched_columns_are_refused() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(DriftInputError, match="current window is empty"):
        dataset_drift(frame, frame.iloc[:0])
    with pytest.raises(DriftInputError, match="reference window is empty"):
        dataset_drift(pd.DataFrame(), frame)
    with pytest.raises(DriftInputError, match="no column in common: the reference has a, b, the current window has c"):
        dataset_drift(frame, pd.DataFrame({"c": [1.0]}))
    with pytest.raises(DriftInputError, match=r"Column z is not in the reference window \(it has a, b\)"):
        dataset_drift(frame, frame, columns=["a", "z"])
    with pytest.raises(DriftInputError, match="Columns b, c are not in the current window"):
        dataset_drift(frame.assign(c=1.0), frame[["a"]], columns=["a", "b", "c"])
    with pytest.raises(DriftInputError, match="column 'c', which is not among the columns tested"):
        dataset_drift(frame, frame, tests={"c": ("ks", None)})
    with pytest.raises(DriftInputError, match="drift share must be a number above 0 and at most 1"):
        dataset_drift(frame, frame, drift_share=0)
    with pytest.raises(DriftInputError, match="current window is empty"):
        column_drift(frame["a"], frame["a"].iloc[:0])


def test_dates_are_left_out_of_a_dataset_and_named() -> None:
    frame = pd.DataFrame({"when": pd.date_range("2026-01-01", periods=20), "x": np.arange(20.0)})
    result = dataset_drift(frame, frame)
    assert [c.column for c in result.columns] == ["x"]
    assert "dates" in result.skipped["when"]


# --- the chart's bins, and the stored and printed shapes ------------------------------------------------------


def test_numeric_bins_are_shared_edges_and_categories_are_capped_with_other() -> None:
    rng = np.random.default_rng(8)
    many = column_drift(_series(rng.normal(0, 1, 2000)), _series(rng.normal(1, 1, 500)))
    assert len(many.bins) == len(many.reference_share) + 1 == len(many.current_share) + 1
    assert many.bins == sorted(many.bins)
    assert sum(many.reference_share) == pytest.approx(1)
    assert sum(many.current_share) == pytest.approx(1)
    few = column_drift(_series([0.0, 1.0, 1.0, 1.0]), _series([0.0, 0.0, 1.0, 1.0]))
    assert (few.bins, few.reference_share, few.current_share) == ([-0.5, 0.5, 1.5], [0.25, 0.75], [0.5, 0.5])
    labels = [f"c{i:02d}" for i in range(30)]
    cities = column_drift(_series(labels * 5 + ["c00"] * 50), _series(labels * 2))
    assert len(cities.bins) == 20
    assert (cities.bins[0], cities.bins[-1]) == ("c00", "other")
    assert sum(cities.reference_share) == pytest.approx(1)


def test_the_json_shape_and_the_stored_round_trip() -> None:
    frame = pd.DataFrame({"a": np.arange(50.0), "b": ["x", "y"] * 25})
    result = dataset_drift(frame, frame)
    shape = result.as_json()
    assert list(shape) == ["columns", "dataset"]
    assert [list(c) for c in shape["columns"]] == [["column", "test", "score", "threshold", "drifted"]] * 2
    assert shape["dataset"] == {"share_drifted": 0.0, "drift_share": 0.5, "dataset_drift": False}
    stored = json.loads(json.dumps(result.as_dict()))
    assert DatasetDrift.from_dict(stored) == result
    assert isinstance(DatasetDrift.from_dict(stored).columns[0], ColumnDrift)


def test_the_detector_imports_no_django() -> None:
    code = "import sys, sandbox.monitoring.drift; print(sorted(m for m in ('django', 'celery') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_test_name_is_one_the_detector_runs() -> None:
    rng = np.random.default_rng(9)
    reference, current = _series(rng.integers(0, 2, 200).astype(float)), _series(rng.integers(0, 2, 100).astype(float))
    assert {column_drift(reference, current, test=test).test for test in TESTS} == set(TESTS)


# --- manage.py drift_report -----------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(10)
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    pd.DataFrame({"age": rng.normal(40, 10, 600), "city": rng.choice(["Lyon", "Oslo"], 600)}).to_csv(
        reference, index=False
    )
    pd.DataFrame({"age": rng.normal(48, 10, 300), "city": rng.choice(["Lyon", "Oslo"], 300), "extra": 1}).to_csv(
        current, index=False
    )
    return reference, current


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("drift_report", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_each_columns_test_reason_and_the_dataset_verdict(files: tuple[Path, Path]) -> None:
    reference, current = files
    text = _run("--reference", str(reference), "--current", str(current))
    assert "age     num   ks" in text
    assert "DRIFT" in text
    assert "city    cat   z" in text
    assert "age: Numeric with" in text
    assert "two-sample Kolmogorov-Smirnov test: drift when p ≤ 0.05." in text
    assert "extra: only in the current file" in text
    assert "Dataset: 1 of 2 columns drifted (share 0.50)" in text
    assert "DATASET DRIFT." in text


def test_the_command_prints_one_json_object(files: tuple[Path, Path]) -> None:
    reference, current = files
    printed = json.loads(_run("--reference", str(reference), "--current", str(current), "--format", "json"))
    assert [c["column"] for c in printed["columns"]] == ["age", "city"]
    assert (printed["columns"][0]["test"], printed["columns"][0]["drifted"]) == ("ks", True)
    assert printed["dataset"] == {"share_drifted": 0.5, "drift_share": 0.5, "dataset_drift": True}
    chosen = json.loads(
        _run("--reference", str(reference), "--current", str(current), "--format", "json", "--test", "age=psi:0.3")
    )
    assert (chosen["columns"][0]["test"], chosen["columns"][0]["threshold"]) == ("psi", 0.3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"age,city\n", "has a header row but no rows of data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file: it holds binary data"),
        (b"PAR1\x15\x04", "is a Parquet file"),
        (b'{"age": [1, 2]}', "looks like JSON, not CSV"),
        (b'age,city\n1,"Lyon\n', "not a CSV file that can be read"),
        (b"height,weight\n1.8,70\n", "no column in common: the reference has age, city, the current window has height"),
    ],
)
def test_the_command_refuses_a_bad_file_with_exit_status_2(
    files: tuple[Path, Path], tmp_path: Path, content: bytes, message: str
) -> None:
    reference, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match=message) as raised:
        _run("--reference", str(reference), "--current", str(bad))
    assert raised.value.returncode == 2


def test_the_command_refuses_a_missing_file_and_a_bad_test_choice(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    with pytest.raises(CommandError, match="does not exist") as raised:
        _run("--reference", str(tmp_path / "nope.csv"), "--current", str(current))
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="write COLUMN=TEST or COLUMN=TEST:THRESHOLD") as raised:
        _run("--reference", str(reference), "--current", str(current), "--test", "age=anova")
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="compares numbers, and column 'city' is categorical") as raised:
        _run("--reference", str(reference), "--current", str(current), "--test", "city=ks")
    assert raised.value.returncode == 2


def test_manage_py_exits_with_status_2_and_the_message_on_stderr(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, _ = files
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "drift_report",
            "--reference",
            str(reference),
            "--current",
            str(empty),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "is empty: a CSV file needs a header row and at least one row." in done.stderr
    assert "Traceback" not in done.stderr
