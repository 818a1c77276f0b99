"""The quick lane of the endpoint: NumericReader reads what parse_request reads, and a RowPredictor predicts
what the pipeline predicts."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.ml.datasets import load_builtin, make_churn
from sandbox.ml.row_predictor import numeric_predictor
from sandbox.ml.scoring import (
    QUICK_ROWS,
    ColumnSpec,
    NumericReader,
    ScoringError,
    Signature,
    parse_request,
    signature_from_frame,
)
from sandbox.ml.training import ALGORITHMS, Preparation, build_pipeline

JSON = "application/json"
SIGNATURE = Signature(inputs=(ColumnSpec("x", "double"), ColumnSpec("n", "long"), ColumnSpec("i", "integer")))
NAMES = SIGNATURE.names
READER = NumericReader.for_signature(SIGNATURE)


def _body(document: object) -> bytes:
    return json.dumps(document).encode()


ROWS = [[1.5, 3, -4], [-2, 9007199254740991, 2147483647]]
FORMS = {
    "split": {"dataframe_split": {"columns": NAMES, "data": ROWS}},
    "split, extra column first": {"dataframe_split": {"columns": ["z", *NAMES], "data": [[0, *r] for r in ROWS]}},
    "records": {"dataframe_records": [dict(zip(NAMES, r, strict=True)) for r in ROWS]},
    "instances": {"instances": [dict(zip(NAMES, r, strict=True)) for r in ROWS]},
    "inputs": {"inputs": {name: [r[at] for r in ROWS] for at, name in enumerate(NAMES)}},
    "inputs, one row of values": {"inputs": dict(zip(NAMES, ROWS[0], strict=True))},
    "empty params": {"dataframe_split": {"columns": NAMES, "data": ROWS}, "params": {}},
}


@pytest.mark.parametrize("name", FORMS)
def test_the_quick_lane_reads_each_form_as_parse_request_does(name: str) -> None:
    body = _body(FORMS[name])
    quick = READER.read(body, JSON)
    assert quick is not None
    pd.testing.assert_frame_equal(quick.frame, parse_request(body, JSON, SIGNATURE).frame)
    assert quick.form == next(key for key in FORMS[name] if key != "params")
    first = quick.records(1)[0]
    assert first == {"x": 1.5, "n": 3, "i": -4}
    assert type(first["n"]) is int


LEFT_TO_PARSE_REQUEST = {
    "a missing value": {"dataframe_split": {"columns": NAMES, "data": [[None, 1, 1]]}},
    "a missing column": {"dataframe_split": {"columns": NAMES[:2], "data": [[1, 1]]}},
    "a string": {"dataframe_records": [{"x": "1.5", "n": 1, "i": 1}]},
    "a boolean": {"dataframe_records": [{"x": True, "n": 1, "i": 1}]},
    "a fraction in a long column": {"dataframe_records": [{"x": 1, "n": 1.5, "i": 1}]},
    "an integer past 2**31": {"dataframe_records": [{"x": 1, "n": 1, "i": 2**31}]},
    "a long past 2**53": {"dataframe_records": [{"x": 1, "n": 2**53 + 1, "i": 1}]},
    "a number past a double": {"dataframe_records": [{"x": 10**400, "n": 1, "i": 1}]},
    "an index": {"dataframe_split": {"columns": NAMES, "data": [[1, 1, 1]], "index": [7]}},
    "params": {"dataframe_split": {"columns": NAMES, "data": [[1, 1, 1]]}, "params": {"k": 1}},
    "two forms": {"dataframe_split": {"columns": NAMES, "data": [[1, 1, 1]]}, "inputs": {}},
    "no rows": {"dataframe_records": []},
    "too many rows": {"dataframe_records": [{"x": 1, "n": 1, "i": 1}] * (QUICK_ROWS + 1)},
}


@pytest.mark.parametrize("name", LEFT_TO_PARSE_REQUEST)
def test_anything_unusual_is_left_to_parse_request(name: str) -> None:
    assert READER.read(_body(LEFT_TO_PARSE_REQUEST[name]), JSON) is None


def test_other_media_types_charsets_and_non_ascii_bodies_are_left_to_parse_request() -> None:
    body = _body(FORMS["split"])
    assert READER.read(body, JSON) is not None
    for content_type in (None, "text/csv", "application/json; charset=latin-1", "application/JSON"):
        assert READER.read(body, content_type) is None
    assert READER.read("\ufeff".encode() + body, JSON) is None
    assert READER.read(b'{"inputs": {"x": 1, "n": 1, "i": 1, "\xc3\xa9": 2}}', JSON) is None
    assert READER.read(b"{not json", JSON) is None
    assert READER.read(b'{"inputs": {"x": NaN, "n": 1, "i": 1}}', JSON) is None


def test_only_signatures_of_numbers_get_a_reader() -> None:
    assert NumericReader.for_signature(Signature(inputs=(ColumnSpec("s", "string"),))) is None
    assert NumericReader.for_signature(Signature(inputs=(ColumnSpec("f", "float"),))) is None
    assert NumericReader.for_signature(Signature(inputs=(ColumnSpec("b", "boolean"),))) is None


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from([0, -0.0, 2**31 - 1, 2**31, 2**53, 2**53 + 1, 1e308, 1.5]),
)
values = numbers | st.none() | st.booleans() | st.text(max_size=3)
record = st.dictionaries(st.sampled_from([*NAMES, "z"]), values, max_size=4)
payloads = st.one_of(
    st.builds(
        lambda cols, rows: {"dataframe_split": {"columns": cols, "data": rows}},
        st.permutations([*NAMES, "z"]).map(lambda c: c[:4]) | st.just(NAMES),
        st.lists(st.lists(values, min_size=3, max_size=4), min_size=1, max_size=3),
    ),
    st.builds(lambda rows: {"dataframe_records": rows}, st.lists(record, max_size=3)),
    st.builds(lambda rows: {"instances": rows}, st.lists(record, max_size=3)),
    st.builds(
        lambda cols: {"inputs": cols}, st.dictionaries(st.sampled_from(NAMES), st.lists(values, max_size=3) | values)
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=payloads)
def test_whatever_the_quick_lane_accepts_parse_request_reads_as_the_same_frame(document: dict) -> None:
    body = _body(document)
    quick = READER.read(body, JSON)
    if quick is None:
        return
    try:
        frame = parse_request(body, JSON, SIGNATURE).frame
    except ScoringError as refusal:
        raise AssertionError(f"the quick lane accepted what parse_request refuses: {refusal.message}") from None
    pd.testing.assert_frame_equal(quick.frame, frame)


def _fitted(algorithm: str, preparation: Preparation, frame: pd.DataFrame, target: str) -> object:
    algorithm_ = ALGORITHMS[algorithm]
    params = {p.name: p.default for p in algorithm_.params}
    if "n_estimators" in params:
        params["n_estimators"] = 5
    features = frame.drop(columns=[target])
    return build_pipeline(algorithm_, params, preparation, features, 3).fit(features, frame[target])


PREPARATIONS = [Preparation(), Preparation(impute="none"), Preparation(scale=False), Preparation("none", False)]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("preparation", PREPARATIONS, ids=lambda p: f"impute={p.impute},scale={p.scale}")
def test_a_row_predictor_predicts_what_the_pipeline_predicts(algorithm: str, preparation: Preparation) -> None:
    regression = ALGORITHMS[algorithm].task != "classification"
    name, target = ("diabetes", "target") if regression else ("breast_cancer", "target")
    frame = load_builtin(name)
    pipeline = _fitted(algorithm, preparation, frame, target)
    signature = signature_from_frame(frame, target)
    predictor = numeric_predictor(pipeline, signature.names)
    assert predictor is not None
    features = frame.drop(columns=[target])
    rows = pd.concat([features.iloc[:40], features.sample(40, random_state=1) * 1.7 - 0.3])
    quick = np.concatenate([predictor.predict(rows.iloc[[at]].to_numpy(np.float64)) for at in range(len(rows))])
    expected = pipeline.predict(rows)
    if regression:
        np.testing.assert_allclose(quick, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(quick, expected)
        assert quick.dtype == expected.dtype
    np.testing.assert_allclose(predictor.predict(rows.to_numpy(np.float64)), expected, rtol=1e-12, atol=1e-12)


def test_linear_models_are_predicted_without_scikit_learns_checks_and_others_through_them() -> None:
    frame = load_builtin("breast_cancer")
    names = signature_from_frame(frame, "target").names
    assert numeric_predictor(_fitted("logistic_regression", Preparation(), frame, "target"), names).linear
    assert not numeric_predictor(_fitted("random_forest", Preparation(), frame, "target"), names).linear


def test_pipelines_it_cannot_reproduce_exactly_get_no_row_predictor() -> None:
    churn = make_churn(rows=300, seed=1)
    target = "churned"
    pipeline = _fitted("logistic_regression", Preparation(), churn, target)
    assert numeric_predictor(pipeline, signature_from_frame(churn, target).names) is None
    # An imputer drops a column that was missing throughout training: the columns no longer line up.
    frame = load_builtin("breast_cancer")
    frame.iloc[:, 0] = np.nan
    pipeline = _fitted("logistic_regression", Preparation(), frame, "target")
    assert numeric_predictor(pipeline, signature_from_frame(frame, "target").names) is None
    assert numeric_predictor(object(), ["x"]) is None
