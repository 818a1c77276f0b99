"""MLflow's scoring protocol as sandbox/ml/scoring.py reads and writes it."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.ml.datasets import load_builtin, make_churn
from sandbox.ml.scoring import (
    ACCEPTED_FORMS,
    MAX_BODY_BYTES,
    ColumnSpec,
    ScoringError,
    ScoringInput,
    Signature,
    format_predictions,
    parse_request,
    signature_from_frame,
)

JSON = "application/json"
CSV = "text/csv"
SIGNATURE = Signature(
    inputs=(
        ColumnSpec("x", "double"),
        ColumnSpec("f", "float"),
        ColumnSpec("n", "long"),
        ColumnSpec("i", "integer"),
        ColumnSpec("b", "boolean"),
        ColumnSpec("s", "string"),
    )
)
ROWS = [
    {"x": 1.5, "f": 2, "n": 3, "i": -4, "b": True, "s": "one"},
    {"x": -2, "f": 0.25, "n": 9007199254740993, "i": 2147483647, "b": False, "s": "two, with a comma"},
]
EXPECTED = pd.DataFrame(
    {
        "x": np.array([1.5, -2.0]),
        "f": np.array([2.0, 0.25], dtype=np.float32),
        "n": np.array([3, 9007199254740993], dtype=np.int64),
        "i": np.array([-4, 2147483647], dtype=np.int32),
        "b": np.array([True, False]),
        "s": pd.array(["one", "two, with a comma"], dtype=pd.StringDtype(na_value=np.nan)),
    }
)
NAMES = list(EXPECTED.columns)


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _split(rows: list[dict], names: list[str] = NAMES) -> bytes:
    return _json({"dataframe_split": {"columns": names, "data": [[row[n] for n in names] for row in rows]}})


ACCEPTED = {
    "dataframe_split": (_split(ROWS), JSON),
    "dataframe_split with an index": (
        _json({"dataframe_split": {"index": [7, 8], "columns": NAMES, "data": [[r[n] for n in NAMES] for r in ROWS]}}),
        JSON,
    ),
    "dataframe_records": (_json({"dataframe_records": ROWS}), JSON),
    "instances as records": (_json({"instances": ROWS}), JSON),
    "instances as columns": (_json({"instances": {n: [r[n] for r in ROWS] for n in NAMES}}), JSON),
    "inputs as columns": (_json({"inputs": {n: [r[n] for r in ROWS] for n in NAMES}}), JSON),
    "inputs as records": (_json({"inputs": ROWS}), JSON),
    "csv": (b'x,f,n,i,b,s\n1.5,2,3,-4,true,one\n-2,0.25,9007199254740993,2147483647,False,"two, with a comma"\n', CSV),
    "csv, charset given, byte-order mark": (
        b'\xef\xbb\xbfx,f,n,i,b,s\n1.5,2,3,-4,True,one\n-2,0.25,9007199254740993,2147483647,0,"two, with a comma"\n',
        "text/csv; charset=UTF-8",
    ),
    "json with a byte-order mark": (b"\xef\xbb\xbf" + _json({"dataframe_records": ROWS}), JSON),
    "json with charset": (_json({"dataframe_records": ROWS}), "application/json; charset=utf-8"),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_accepted_form_gives_the_same_frame(name: str) -> None:
    body, content_type = ACCEPTED[name]
    scored = parse_request(body, content_type, SIGNATURE)
    pd.testing.assert_frame_equal(scored.frame, EXPECTED)


def test_the_frame_follows_the_signature_order_and_ignores_extra_columns() -> None:
    rows = [{"extra": "ignored", **dict(reversed(list(row.items())))} for row in ROWS]
    scored = parse_request(_json({"dataframe_records": rows}), JSON, SIGNATURE)
    assert list(scored.frame.columns) == NAMES
    pd.testing.assert_frame_equal(scored.frame, EXPECTED)
    names = ["extra", *reversed(NAMES)]
    scored = parse_request(_split(rows, names), JSON, SIGNATURE)
    pd.testing.assert_frame_equal(scored.frame, EXPECTED)


def test_whole_floats_are_read_as_integers_and_integers_as_doubles() -> None:
    signature = Signature(inputs=(ColumnSpec("n", "long"), ColumnSpec("x", "double")))
    scored = parse_request(_json({"inputs": {"n": [2.0, -3.0], "x": [1, 2]}}), JSON, signature)
    assert scored.frame["n"].dtype == np.int64
    assert scored.frame["n"].tolist() == [2, -3]
    assert scored.frame["x"].dtype == np.float64
    assert scored.frame["x"].tolist() == [1.0, 2.0]


def test_one_row_of_inputs_may_be_given_as_single_values() -> None:
    scored = parse_request(_json({"inputs": ROWS[0]}), JSON, SIGNATURE)
    pd.testing.assert_frame_equal(scored.frame, EXPECTED.iloc[:1])


def test_params_are_passed_on_and_the_form_is_named() -> None:
    scored = parse_request(_json({"dataframe_records": ROWS, "params": {"threshold": 0.3}}), JSON, SIGNATURE)
    assert scored.params == {"threshold": 0.3}
    assert scored.form == "dataframe_records"
    assert parse_request(ACCEPTED["csv"][0], CSV, SIGNATURE).form == "csv"
    assert parse_request(_json({"inputs": ROWS, "params": None}), JSON, SIGNATURE).params == {}


def test_a_column_the_signature_marks_optional_accepts_missing_values() -> None:
    signature = Signature(inputs=(ColumnSpec("x", "double", required=False), ColumnSpec("s", "string", required=False)))
    for body, content_type in [
        (_json({"dataframe_records": [{"x": None, "s": None}, {"x": 1.0}, {"s": "a", "x": 2}]}), JSON),
        (_json({"dataframe_split": {"columns": ["x", "s"], "data": [[None, None], [1.0, None], [2, "a"]]}}), JSON),
        (b"x,s\n,\n1.0,\n2,a\n", CSV),
    ]:
        frame = parse_request(body, content_type, signature).frame
        assert frame["x"].isna().tolist() == [True, False, False], body
        assert frame["s"].isna().tolist() == [True, True, False], body
        assert frame["x"].iloc[2] == 2.0
        assert frame["s"].iloc[2] == "a"


def test_text_that_looks_like_a_missing_value_is_text_in_a_csv_string_column() -> None:
    signature = Signature(inputs=(ColumnSpec("s", "string"),))
    assert parse_request(b"s\nNA\nNaN\nnull\n", CSV, signature).frame["s"].tolist() == ["NA", "NaN", "null"]


ONE = {"x": 1.0, "f": 1.0, "n": 1, "i": 1, "b": True, "s": "a"}


def _one(**changes: object) -> bytes:
    return _json({"dataframe_records": [ONE, {**ONE, **changes}]})


def _one_raw(column: str, token: str) -> bytes:
    """A records body whose second row's `column` holds `token` as written (NaN, Infinity: not JSON)."""
    row = {**ONE, column: "@@"}
    return json.dumps({"dataframe_records": [ONE, row]}).replace('"@@"', token).encode()


NESTED = b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
BAD = {
    # Structure of the request (400, BAD_REQUEST).
    "malformed JSON": (b'{"dataframe_records": [', JSON, 400, "not valid JSON"),
    "JSON that is not an object": (b"[1, 2]", JSON, 400, "must be an object"),
    "no payload key": (b"{}", JSON, 400, "has no keys"),
    "only params": (_json({"params": {}}), JSON, 400, '"params"'),
    "two payload keys": (_json({"inputs": ROWS, "instances": ROWS}), JSON, 400, '"inputs", "instances"'),
    "an unknown key beside the payload": (_json({"inputs": ROWS, "param": {}}), JSON, 400, '"param"'),
    "params not an object": (_json({"inputs": ROWS, "params": [1]}), JSON, 400, '"params" must be an object'),
    "split rows without column names": (
        _json({"dataframe_split": {"data": [[1, 1, 1, 1, True, "a"]]}}),
        JSON,
        400,
        "no column names",
    ),
    "records without names": (_json({"dataframe_records": [[1, 1, 1, 1, True, "a"]]}), JSON, 400, "no column names"),
    "instances without names": (_json({"instances": [[1, 1, 1, 1, True, "a"]]}), JSON, 400, "no column names"),
    "inputs without names": (_json({"inputs": [[1, 1, 1, 1, True, "a"]]}), JSON, 400, "no column names"),
    "split with another key": (_json({"dataframe_split": {"columns": NAMES, "data": [], "x": 1}}), JSON, 400, '"x"'),
    "split row of the wrong width": (
        _json({"dataframe_split": {"columns": NAMES, "data": [[1, 2]]}}),
        JSON,
        400,
        "has 2 values for 6 columns",
    ),
    "split column named twice": (
        _json({"dataframe_split": {"columns": ["x", "x"], "data": [[1, 2]]}}),
        JSON,
        400,
        "more than once",
    ),
    "no rows": (_json({"dataframe_records": []}), JSON, 400, "no rows"),
    "columns of different lengths": (
        _json({"inputs": {**{n: [ONE[n]] for n in NAMES}, "x": [1.0, 2.0]}}),
        JSON,
        400,
        "different numbers",
    ),
    "nested 10,000 deep": (NESTED, JSON, 400, "more than 64 deep"),
    "not UTF-8": (b'{"inputs": "\xff"}', JSON, 400, "not UTF-8"),
    "empty body": (b"", JSON, 400, "not valid JSON"),
    # Values against the signature (400, INVALID_PARAMETER_VALUE).
    "a missing column": (_json({"dataframe_records": [{k: v for k, v in ONE.items() if k != "n"}]}), JSON, 400, "'n'"),
    "text for a double": (_one(x="1.5"), JSON, 400, 'got the string "1.5"'),
    "a boolean for a double": (_one(x=True), JSON, 400, "got the boolean true"),
    "a fraction for a long": (_one(n=1.5), JSON, 400, "got the number 1.5"),
    "a number for a boolean": (_one(b=1), JSON, 400, "expected true or false"),
    "a number for a string": (_one(s=5), JSON, 400, "expected text"),
    "a list for a double": (_one(x=[1.0]), JSON, 400, "got a list"),
    "null in a double": (_one(x=None), JSON, 400, "column 'x' has no value"),
    "null in a long": (_one(n=None), JSON, 400, "column 'n' has no value"),
    "null in a string": (_one(s=None), JSON, 400, "column 's' has no value"),
    "a key missing from one record": (
        _json({"dataframe_records": [ONE, {k: v for k, v in ONE.items() if k != "b"}]}),
        JSON,
        400,
        "Row 2, column 'b' has no value",
    ),
    "NaN": (_one_raw("x", "NaN"), JSON, 400, "NaN, which is not a JSON value"),
    "Infinity": (_one_raw("x", "Infinity"), JSON, 400, "Infinity"),
    "-Infinity": (_one_raw("f", "-Infinity"), JSON, 400, "-Infinity"),
    "a number beyond a double": (_one_raw("x", "1e400"), JSON, 400, "beyond what a double holds"),
    "a number beyond a float": (_one(f=1e39), JSON, 400, "beyond what a float holds"),
    "an integer beyond a long": (_one(n=2**63), JSON, 400, "beyond what a long holds"),
    "an integer beyond a double": (_one_raw("x", "1" + "0" * 400), JSON, 400, "beyond what a double holds"),
    "an integer beyond an integer": (_one(i=2**31), JSON, 400, "beyond what an integer holds"),
    "CSV text for a double": (b"x,f,n,i,b,s\n1,1,1,1,true,a\nabc,1,1,1,true,a\n", CSV, 400, "line 3 of the CSV"),
    "CSV NaN for a double": (b"x,f,n,i,b,s\nNaN,1,1,1,true,a\n", CSV, 400, 'got the string "NaN"'),
    "CSV inf for a double": (b"x,f,n,i,b,s\ninf,1,1,1,true,a\n", CSV, 400, "beyond what a double holds"),
    "CSV empty field": (b"x,f,n,i,b,s\n1,1,,1,true,a\n", CSV, 400, "column 'n' has no value"),
    "CSV yes for a boolean": (b"x,f,n,i,b,s\n1,1,1,1,yes,a\n", CSV, 400, 'got the string "yes"'),
    "CSV fraction for a long": (b"x,f,n,i,b,s\n1,1,1.5,1,true,a\n", CSV, 400, "expected a whole number"),
    "CSV missing column": (b"x,f,n,i,b\n1,1,1,1,true\n", CSV, 400, "no column 's'"),
    "CSV column named twice": (b"x,x,f,n,i,b,s\n1,1,1,1,1,true,a\n", CSV, 400, "more than once"),
    "CSV row longer than the header": (b"x,f,n,i,b,s\n1,1,1,1,true,a,9\n", CSV, 400, "7 fields for 6"),
    "CSV header only": (b"x,f,n,i,b,s\n", CSV, 400, "no rows"),
    "CSV empty": (b"", CSV, 400, "empty"),
    # Media types (415).
    "no content type": (_one(), None, 415, "no Content-Type"),
    "an empty content type": (_one(), "", 415, "no Content-Type"),
    "form encoding (curl's default)": (_one(), "application/x-www-form-urlencoded", 415, "is not read here"),
    "parquet": (_one(), "application/vnd.apache.parquet", 415, "is not read here"),
    "charset latin-1": (_one(), "application/json; charset=latin-1", 415, "only UTF-8"),
    "charset UTF-16 for CSV": (b"x\n1\n", "text/csv; charset=utf-16", 415, "only UTF-8"),
    "another content type parameter": (_one(), "application/json; format=pandas-split", 415, "format"),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_input_is_refused_with_its_status_and_a_message(name: str) -> None:
    body, content_type, status, words = BAD[name]
    with pytest.raises(ScoringError) as caught:
        parse_request(body, content_type, SIGNATURE)
    refusal = caught.value
    assert refusal.status == status
    assert words in refusal.message
    assert ACCEPTED_FORMS in refusal.message
    assert refusal.error_code in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")
    assert json.loads(refusal.body()) == {"error_code": refusal.error_code, "message": refusal.message}


def test_values_that_do_not_fit_are_refused_as_schema_errors_and_structure_as_bad_requests() -> None:
    with pytest.raises(ScoringError) as value:
        parse_request(_one(x="a"), JSON, SIGNATURE)
    with pytest.raises(ScoringError) as structure:
        parse_request(b"{", JSON, SIGNATURE)
    assert value.value.error_code == "INVALID_PARAMETER_VALUE"
    assert structure.value.error_code == "BAD_REQUEST"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    signature = Signature(inputs=(ColumnSpec("s", "string"),))
    text = '[[[{{\\"' * 40
    scored = parse_request(_json({"dataframe_records": [{"s": text}]}), JSON, signature)
    assert scored.frame["s"].tolist() == [text]


def test_a_five_megabyte_batch_of_twenty_thousand_rows_is_read() -> None:
    names = [f"feature {n}" for n in range(30)]
    signature = Signature(inputs=tuple(ColumnSpec(name, "double") for name in names))
    values = np.random.default_rng(0).normal(size=(20_000, 30)).round(6)
    body = _json({"dataframe_split": {"columns": names, "data": values.tolist()}})
    assert 5_000_000 < len(body) < MAX_BODY_BYTES
    frame = parse_request(body, JSON, signature).frame
    assert frame.shape == (20_000, 30)
    np.testing.assert_array_equal(frame.to_numpy(), values)


def _outcome(body: bytes, content_type: str | None) -> ScoringInput | ScoringError:
    """The request read, or the refusal; any other exception fails the test."""
    try:
        return parse_request(body, content_type, SIGNATURE)
    except ScoringError as refusal:
        return refusal


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from([*NAMES, "k"]), children),
    max_leaves=20,
)
payloads = st.tuples(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]), json_values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=200),
    content_type=st.sampled_from([JSON, CSV, None, "text/plain", "application/json; charset=utf-8"]),
)
def test_arbitrary_bytes_raise_nothing_but_a_scoring_error(body: bytes, content_type: str | None) -> None:
    outcome = _outcome(body, content_type)
    if isinstance(outcome, ScoringError):
        assert 400 <= outcome.status < 500


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads, params=st.none() | json_values)
def test_arbitrary_json_payloads_are_read_or_refused_and_nothing_else(payload: tuple, params: object) -> None:
    key, value = payload
    body = json.dumps({key: value, "params": params}).encode()
    outcome = _outcome(body, JSON)
    if isinstance(outcome, ScoringError):
        assert 400 <= outcome.status < 500
    else:
        assert list(outcome.frame.columns) == NAMES
        assert len(outcome.frame) >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.sampled_from(list('x,fnibs\n"1.5e-aTrue\r ;')), max_size=80))
def test_arbitrary_csv_text_is_read_or_refused_and_nothing_else(text: str) -> None:
    outcome = _outcome(text.encode(), CSV)
    if isinstance(outcome, ScoringError):
        assert outcome.status == 400
    else:
        assert list(outcome.frame.columns) == NAMES


def test_predictions_are_written_as_mlflow_writes_them() -> None:
    assert format_predictions(np.array([0, 1, 1])) == b'{"predictions": [0, 1, 1]}'
    assert format_predictions(np.array([0.5, 1e-7, 12.0])) == b'{"predictions": [0.5, 1e-07, 12.0]}'
    assert format_predictions(np.array(["benign", "malignant"], dtype=object)) == (
        b'{"predictions": ["benign", "malignant"]}'
    )
    assert format_predictions(np.array([True, False])) == b'{"predictions": [true, false]}'
    assert format_predictions([np.int64(3), np.float32(0.5)]) == b'{"predictions": [3, 0.5]}'
    assert format_predictions(pd.Series([1, 2])) == b'{"predictions": [1, 2]}'


def test_a_prediction_that_is_not_a_finite_number_is_written_as_null() -> None:
    assert format_predictions(np.array([1.0, np.nan, np.inf])) == b'{"predictions": [1.0, null, null]}'


def test_the_signature_is_inferred_from_the_training_columns_as_mlflow_infers_it() -> None:
    frame = pd.DataFrame(
        {
            "radius": [1.5, np.nan],
            "count": [1, 2],
            "small": np.array([1, 2], dtype=np.int32),
            "ratio": np.array([0.5, 1.0], dtype=np.float32),
            "flag": [True, False],
            "plan": ["a", "b"],
            "target": [0, 1],
        }
    )
    signature = signature_from_frame(frame, "target")
    assert signature.to_mlmodel() == {
        "inputs": '[{"type": "double", "name": "radius", "required": false}, '
        '{"type": "long", "name": "count", "required": true}, '
        '{"type": "integer", "name": "small", "required": true}, '
        '{"type": "float", "name": "ratio", "required": true}, '
        '{"type": "boolean", "name": "flag", "required": true}, '
        '{"type": "string", "name": "plan", "required": true}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": None,
    }
    assert Signature.from_mlmodel(signature.to_mlmodel()) == signature


def test_text_labels_are_an_object_tensor() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "species": ["setosa", "virginica"]})
    assert signature_from_frame(frame, "species").output_dtype == "object"


def test_a_signature_refuses_unknown_types_and_repeated_names() -> None:
    with pytest.raises(ValueError, match="MLflow column types"):
        ColumnSpec("x", "datetime")
    with pytest.raises(ValueError, match="once"):
        Signature(inputs=(ColumnSpec("x", "double"), ColumnSpec("x", "long")))


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes", "churn"])
def test_rows_of_each_dataset_read_back_as_the_training_frame(name: str) -> None:
    frame = make_churn(rows=300) if name == "churn" else load_builtin(name)
    target = "churned" if name == "churn" else "target"
    features = frame.drop(columns=[target])
    signature = signature_from_frame(frame, target)
    records = features.astype(object).where(features.notna(), None).to_dict(orient="records")
    for body, content_type in [
        (_json({"dataframe_records": records}), JSON),
        (features.to_csv(index=False).encode(), CSV),
    ]:
        pd.testing.assert_frame_equal(parse_request(body, content_type, signature).frame, features)
