import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.ml import datasets as ml


def test_every_builtin_set_loads_with_a_target_column() -> None:
    for name, (_, task, _) in ml.BUILTIN.items():
        frame = ml.load_builtin(name)
        assert ml.TARGET in frame.columns, name
        assert len(frame) > 100
        assert task in (ml.CLASSIFICATION, ml.REGRESSION)


def test_the_churn_table_is_seeded_and_has_what_preparation_needs() -> None:
    frame = ml.make_churn(rows=500, seed=3)
    pd.testing.assert_frame_equal(frame, ml.make_churn(rows=500, seed=3))
    assert not frame.equals(ml.make_churn(rows=500, seed=4))
    assert frame["contract"].dtype == object or str(frame["contract"].dtype) == "str"
    assert frame.isna().any().any()
    assert 0.1 < frame["churned"].mean() < 0.5


def test_the_same_content_has_the_same_hash_whatever_the_order() -> None:
    frame = ml.make_churn(rows=200, seed=1)
    shuffled = frame.sample(frac=1, random_state=7)[list(reversed(frame.columns))]
    assert ml.content_hash(frame) == ml.content_hash(shuffled)


def test_any_change_of_a_value_a_name_or_a_type_changes_the_hash() -> None:
    frame = ml.load_builtin("iris")
    original = ml.content_hash(frame)
    changed = frame.copy()
    changed.iloc[0, 0] += 0.1
    assert ml.content_hash(changed) != original
    assert ml.content_hash(frame.rename(columns={"target": "species"})) != original
    assert ml.content_hash(frame.astype({"target": float})) != original


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.text(alphabet="abc", max_size=3)), min_size=1, max_size=30))
def test_hashing_is_stable_under_row_shuffles(rows: list) -> None:
    frame = pd.DataFrame(rows, columns=["n", "s"])
    assert ml.content_hash(frame) == ml.content_hash(frame.iloc[::-1].reset_index(drop=True))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"a,b,c\n1,2,3\n4,5\n", "Row 3 has 2 fields, expected 3."),
        (b"age,income\n,1\n,2\n", "Column 'age' is empty."),
        (b"", "The file is empty."),
        (b"a,b\n", "The file has a header row but no data rows."),
        (b"a,a\n1,2\n", "The header names 'a' more than once."),
        (b"a,,c\n1,2,3\n", "Column 2 of the header row has no name."),
        (b"a,b\n\xff\xfe,1\n", "The file is not UTF-8 text"),
    ],
)
def test_a_bad_csv_is_refused_with_a_message_that_names_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(ml.CsvProblem) as error:
        ml.parse_csv(raw)
    assert str(error.value).startswith(problem)


def test_the_size_limits_hold() -> None:
    with pytest.raises(ml.CsvProblem, match="the limit is 1 MB"):
        ml.parse_csv(b"a\n" + b"1\n" * 600_000, max_bytes=1_000_000)
    with pytest.raises(ml.CsvProblem, match="more than 3 rows"):
        ml.parse_csv(b"a\n1\n2\n3\n4\n", max_rows=3)
    with pytest.raises(ml.CsvProblem, match="3 columns; the limit is 2"):
        ml.parse_csv(b"a,b,c\n1,2,3\n", max_columns=2)


def test_a_csv_with_a_bom_reads_like_one_without() -> None:
    plain = ml.parse_csv(b"x,y\n1,a\n2,b\n")
    with_bom = ml.parse_csv("\ufeffx,y\n1,a\n2,b\n".encode())
    pd.testing.assert_frame_equal(plain, with_bom)
    assert list(with_bom.columns) == ["x", "y"]


def test_the_profile_summarises_each_column() -> None:
    frame = pd.DataFrame({"n": [1.0, 2.0, np.nan], "s": ["a", "a", "b"]})
    numeric, text = ml.profile(frame)
    assert (numeric.missing, numeric.mean, numeric.minimum, numeric.maximum) == (1, 1.5, 1.0, 2.0)
    assert text.top == [("a", 2), ("b", 1)]
    assert ml.class_balance(frame, "s") == [("a", 2), ("b", 1)]


def test_a_histogram_has_one_bin_per_whole_number_over_a_short_range() -> None:
    bins = ml.histogram(np.array([0, 1, 1, 3, np.nan]))
    assert bins == [(-0.5, 0.5, 1), (0.5, 1.5, 2), (1.5, 2.5, 0), (2.5, 3.5, 1)]


def test_a_histogram_of_many_rows_has_at_most_max_bins_and_counts_every_finite_value() -> None:
    values = np.random.default_rng(0).normal(size=200_000)
    values[:10] = [np.inf, -np.inf, np.nan] + [1e12] * 7
    bins = ml.histogram(values)
    assert 1 < len(bins) <= ml.MAX_BINS
    assert sum(count for _, _, count in bins) == 200_000 - 3
    assert bins[0][0] == values[np.isfinite(values)].min()
    assert bins[-1][1] == 1e12
    assert all(low < high for low, high, _ in bins)


@pytest.mark.parametrize(
    "values",
    [[1e308, -1e308, 0.0], [7.5], [1e300, 1e300], [0.0] * 1000 + [1e12], [np.inf, np.nan], [True, False, True]],
)
def test_a_histogram_of_odd_values_is_a_few_bins_that_count_them(values: list) -> None:
    array = np.array(values, dtype=float)
    bins = ml.histogram(array)
    assert len(bins) <= ml.MAX_BINS
    assert sum(count for _, _, count in bins) == np.isfinite(array).sum()


def test_counts_past_the_cap_are_one_other_bar() -> None:
    counts = pd.Series([f"v{n:02d}" for n in range(20) for _ in range(20 - n)]).value_counts()
    pairs = ml.capped_counts(counts, limit=3)
    assert pairs == [("v00", 20), ("v01", 19), ("v02", 18), ("other (17 values)", sum(range(1, 18)))]
    assert ml.capped_counts(counts.head(3), limit=3) == pairs[:3]


def test_the_profile_bins_numbers_and_caps_text() -> None:
    frame = pd.DataFrame({"n": [1.0, 2.0, 2.0, np.nan] * 50, "s": [f"s{n}" for n in range(200)]})
    numeric, text = ml.profile(frame)
    assert numeric.bins == [(0.5, 1.5, 50), (1.5, 2.5, 100)]
    assert not numeric.bars
    assert len(text.bars) == ml.MAX_BARS + 1
    assert sum(count for _, count in text.bars) == 200
    assert not text.bins


def test_a_class_balance_of_many_classes_is_capped() -> None:
    frame = pd.DataFrame({"y": [n % 40 for n in range(400)]})
    balance = ml.class_balance(frame, "y")
    assert len(balance) == ml.MAX_BARS + 1
    assert sum(count for _, count in balance) == 400
    assert ml.class_balance(pd.DataFrame({"y": [2, 1, 1]}), "y") == [("1", 2), ("2", 1)]


def test_a_profile_cuts_long_values_and_tells_apart_those_cut_alike() -> None:
    long = "x" * 200
    frame = pd.DataFrame({"s": [long + "a"] * 3 + [long + "b"] * 2 + ["short"]})
    (text,) = ml.profile(frame)
    assert text.top == [("x" * 39 + "…", 3), ("x" * 39 + "…", 2), ("short", 1)]
    assert [name for name, _ in text.bars] == ["x" * 39 + "…", "x" * 39 + "… (2)", "short"]
    assert ml.class_balance(frame, "s") == [("short", 1), ("x" * 39 + "…", 3), ("x" * 39 + "… (2)", 2)]


def test_a_column_name_past_the_limit_is_refused() -> None:
    raw = ("a," + "n" * (ml.MAX_NAME_CHARS + 1) + "\n1,2\n").encode()
    with pytest.raises(ml.CsvProblem, match=r"The name of column 2 is 101 characters long; the limit is 100\."):
        ml.parse_csv(raw)
    assert list(ml.parse_csv(("a," + "n" * ml.MAX_NAME_CHARS + "\n1,2\n").encode()).columns)[1] == "n" * 100
