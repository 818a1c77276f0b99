"""MLflow's scoring protocol: read a request to `/invocations` into a frame the model can score, and
write its predictions back, as MLflow's own scoring server does (mlflow 3.17,
`mlflow/pyfunc/scoring_server/__init__.py` with `mlflow/utils/proto_json_utils.py` and the schema
enforcement of `mlflow/models/utils.py`).

A request is JSON holding exactly one of `dataframe_split`, `dataframe_records`, `instances` or
`inputs` (and optionally `params`), or CSV with a header row. Its values are checked against the
model's signature: named columns of MLflow column types. Everything accepted here is accepted by
MLflow's server and read as the same frame; some requests MLflow accepts are refused here, where it
would change a value silently or answer 500 (docs/serving.md lists each, with the reason).

Plain Python over numpy and pandas; every check is over whole columns, except for a column whose
values pandas could not give one type, which is read value by value to name the one that is wrong.
"""

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_BODY_BYTES = 10 * 1024 * 1024
"""The largest request body the endpoint reads; a larger one is refused with 413 before it is read."""
MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused before the JSON is parsed (a payload needs 4)."""

DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS = "dataframe_split", "dataframe_records", "instances", "inputs"
PAYLOAD_KEYS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
PARAMS = "params"
CSV_FORM = "csv"
CONTENT_TYPE_JSON, CONTENT_TYPE_CSV = "application/json", "text/csv"

ACCEPTED_FORMS = (
    'Send Content-Type: application/json with a JSON object holding exactly one of "dataframe_split" '
    '({"columns": [...], "data": [[...], ...]}), "dataframe_records" ([{"column": value, ...}, ...]), '
    '"instances" (a list of such records) or "inputs" ({"column": [values], ...}), optionally with '
    '"params"; or Content-Type: text/csv with a header row naming the columns.'
)

# MLflow's error codes (mlflow.protos.databricks_pb2): the request itself is wrong, or its values do not fit
# the model's signature (MLflow's schema enforcement answers the second).
BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"

COLUMN_TYPES = ("double", "float", "long", "integer", "boolean", "string")
_NUMPY = {
    "double": np.dtype("float64"),
    "float": np.dtype("float32"),
    "long": np.dtype("int64"),
    "integer": np.dtype("int32"),
    "boolean": np.dtype("bool"),
}
_EXPECTED = {
    "double": "a number (double)",
    "float": "a number (float)",
    "long": "a whole number (long)",
    "integer": "a whole number (integer, 32-bit)",
    "boolean": "true or false (boolean)",
    "string": "text (string)",
}
_CSV_TRUE, _CSV_FALSE = {"true", "1"}, {"false", "0"}


class ScoringError(Exception):
    """A request the endpoint refuses: the HTTP status, MLflow's error code and a message for the caller."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> bytes:
        """The JSON error body MLflow's server answers with: `{"error_code": ..., "message": ...}`."""
        return json.dumps({"error_code": self.error_code, "message": self.message}).encode()


def _refuse(message: str, *, status: int = 400, code: str = BAD_REQUEST) -> ScoringError:
    return ScoringError(status, code, f"{message} {ACCEPTED_FORMS}")


@dataclass(frozen=True)
class ColumnSpec:
    """One named input column of a signature, as MLflow's ColSpec: a type and whether it may be missing."""

    name: str
    type: str
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"Column {self.name!r} has type {self.type!r}; MLflow column types: {COLUMN_TYPES}.")

    def to_dict(self) -> dict:
        return {"type": self.type, "name": self.name, "required": self.required}


@dataclass(frozen=True)
class Signature:
    """A model's input signature (named columns) and, optionally, its output as MLflow's tensor spec dtype."""

    inputs: tuple[ColumnSpec, ...]
    output_dtype: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.inputs]
        if not names:
            raise ValueError("A signature needs at least one input column.")
        if len(set(names)) != len(names):
            raise ValueError("A signature names each input column once.")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_mlmodel(self) -> dict:
        """The `signature` entry of an MLmodel file: each part a JSON string, as MLflow writes it."""
        outputs = None
        if self.output_dtype is not None:
            outputs = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": self.output_dtype, "shape": [-1]}}])
        return {"inputs": json.dumps([c.to_dict() for c in self.inputs]), "outputs": outputs, "params": None}

    @classmethod
    def from_mlmodel(cls, entry: Mapping) -> "Signature":
        """Read the `signature` entry of an MLmodel file (column-based inputs only)."""
        inputs = tuple(
            ColumnSpec(name=c["name"], type=c["type"], required=c.get("required", True))
            for c in json.loads(entry["inputs"])
        )
        output_dtype = None
        if entry.get("outputs"):
            outputs = json.loads(entry["outputs"])
            if len(outputs) == 1 and outputs[0].get("type") == "tensor":
                output_dtype = outputs[0]["tensor-spec"]["dtype"]
        return cls(inputs=inputs, output_dtype=output_dtype)


@dataclass
class ScoringInput:
    """A request read: the frame in the signature's column order, the request's params and the form it came in."""

    frame: pd.DataFrame
    params: dict = field(default_factory=dict)
    form: str = DF_SPLIT

    def __len__(self) -> int:
        return len(self.frame)


def _column_type(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long" if dtype.itemsize >= 8 or (dtype.kind == "u" and dtype.itemsize >= 4) else "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "double" if dtype.itemsize >= 8 else "float"
    values = series.dropna()
    if pd.api.types.is_string_dtype(dtype) and all(isinstance(v, str) for v in values):
        return "string"
    if dtype.kind == "O" and len(values) and all(isinstance(v, bool | np.bool_) for v in values):
        return "boolean"
    raise ValueError(f"Column {series.name!r} holds {dtype} values, which no MLflow column type describes.")


def signature_from_frame(frame: pd.DataFrame, target: str) -> Signature:
    """The signature MLflow's `infer_signature` gives a model trained on `frame`'s columns other than `target`.

    Types follow the columns' dtypes; a column with missing values is `required: false`, as MLflow marks
    it. The output is the target column's dtype as a tensor spec (`object` for text labels).
    """
    inputs = tuple(
        ColumnSpec(name=str(name), type=_column_type(frame[name]), required=not bool(frame[name].isna().any()))
        for name in frame.columns
        if name != target
    )
    labels = frame[target]
    numeric = pd.api.types.is_numeric_dtype(labels.dtype) or pd.api.types.is_bool_dtype(labels.dtype)
    return Signature(inputs=inputs, output_dtype=str(labels.dtype) if numeric else "object")


# Reading the request.


def _content_type(content_type: str | None) -> str:
    """The media type, checked as MLflow's `invocations` checks it: JSON or CSV, charset UTF-8, no other parameter."""
    if not content_type or not content_type.strip():
        raise _refuse("The request has no Content-Type header.", status=415)
    parts = [part.strip() for part in content_type.split(";")]
    mime, parameters = parts[0], {}
    for pair in parts[1:]:
        key, _, value = pair.partition("=")
        parameters[key] = value
    charset = parameters.pop("charset", "utf-8").lower()
    if charset != "utf-8":
        raise _refuse(f"The body's charset is {charset!r}; only UTF-8 is read.", status=415)
    if parameters:
        raise _refuse(f"Content-Type has parameters other than charset: {', '.join(parameters)}.", status=415)
    if mime not in (CONTENT_TYPE_JSON, CONTENT_TYPE_CSV):
        raise _refuse(f"Content-Type {mime!r} is not read here.", status=415)
    return mime


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"The body is not UTF-8 text (byte {exc.start} cannot be read).") from None


def _json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body`, brackets inside strings not counted, without parsing it."""
    raw = np.frombuffer(body, dtype=np.uint8)
    opening = (raw == ord("[")) | (raw == ord("{"))
    if int(np.count_nonzero(opening)) <= MAX_JSON_DEPTH:
        return int(np.count_nonzero(opening))
    closing = (raw == ord("]")) | (raw == ord("}"))
    quote = raw == ord('"')
    events = np.flatnonzero(opening | closing | quote)
    is_quote = quote[events]
    # A quote ends or starts a string unless an odd run of backslashes precedes it (rare: read one by one).
    for position in np.flatnonzero(is_quote & (events > 0) & (raw[np.maximum(events - 1, 0)] == ord("\\"))):
        at, run = int(events[position]) - 1, 0
        while at >= 0 and raw[at] == ord("\\"):
            run, at = run + 1, at - 1
        is_quote[position] = run % 2 == 0
    outside = np.cumsum(is_quote) % 2 == 0
    steps = np.where(opening[events], 1, np.where(closing[events], -1, 0)) * outside
    return int(np.cumsum(steps).max(initial=0))


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> object:
    raise _NotJson(name)


def _parse_json(body: bytes) -> object:
    if _json_depth(body) > MAX_JSON_DEPTH:
        raise _refuse(f"The JSON nests arrays or objects more than {MAX_JSON_DEPTH} deep.")
    # A byte-order mark is skipped, as json.loads skips it in the bytes MLflow's server hands it.
    text = _text(body).removeprefix("\ufeff")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except _NotJson as exc:
        raise _refuse(
            f"The body holds {exc}, which is not a JSON value (RFC 8259) and not a number the model can score."
        ) from None
    except RecursionError:
        raise _refuse(f"The JSON nests arrays or objects more than {MAX_JSON_DEPTH} deep.") from None
    except ValueError as exc:
        raise _refuse(f"The body is not valid JSON: {exc}.") from None


def _described(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "the boolean " + ("true" if value else "false")
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the string {json.dumps(shown)}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return f"the number {text if len(text) <= 40 else text[:39] + '…'}"


def _bad_value(where: str, spec: ColumnSpec, value: object, why: str = "") -> ScoringError:
    return _refuse(
        f"{where}, column {spec.name!r}: expected {_EXPECTED[spec.type]}, got {_described(value)}{why}.",
        code=INVALID_PARAMETER_VALUE,
    )


def _missing(where: str, spec: ColumnSpec) -> ScoringError:
    reason = (
        "a missing value (null) is accepted only in a column the signature marks optional"
        if spec.required
        else f"a {spec.type} column cannot hold a missing value"
    )
    return _refuse(f"{where}, column {spec.name!r} has no value: {reason}.", code=INVALID_PARAMETER_VALUE)


def _row(form: str, index: int) -> str:
    if form == CSV_FORM:
        return f"Row {index + 1} (line {index + 2} of the CSV)"
    return f"Row {index + 1}"


def _beyond(spec: ColumnSpec) -> str:
    limits = {"double": "±1.8e308", "float": "±3.4e38", "long": "±9.2e18", "integer": "±2,147,483,647"}
    article = "an" if spec.type == "integer" else "a"
    return f", beyond what {article} {spec.type} holds ({limits[spec.type]})"


def _check_integral(values: np.ndarray, spec: ColumnSpec, form: str, original: Sequence | None = None) -> np.ndarray:
    """Floats that are whole numbers within the column's range, as its integer dtype; anything else is refused."""
    dtype = _NUMPY[spec.type]
    info = np.iinfo(dtype)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        inside = (values >= info.min) & (values < -float(info.min))
    bad = np.flatnonzero(~(whole & inside))
    if bad.size:
        at = int(bad[0])
        value = original[at] if original is not None else float(values[at])
        why = _beyond(spec) if whole[at] else ""
        raise _bad_value(_row(form, at), spec, value, why)
    return values.astype(dtype)


def _one_by_one(values: Sequence, spec: ColumnSpec, form: str) -> np.ndarray:
    """A column pandas could not give one dtype: each value checked, the first wrong one named."""
    kind = spec.type
    out: list = []
    for at, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if spec.required or kind in ("long", "integer", "boolean"):
                raise _missing(_row(form, at), spec)
            out.append(np.nan if kind in ("double", "float") else None)
        elif kind == "string":
            if not isinstance(value, str):
                raise _bad_value(_row(form, at), spec, value)
            out.append(value)
        elif kind == "boolean":
            if not isinstance(value, bool | np.bool_):
                raise _bad_value(_row(form, at), spec, value)
            out.append(bool(value))
        else:
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
                raise _bad_value(_row(form, at), spec, value)
            try:
                out.append(float(value))
            except OverflowError:
                raise _bad_value(_row(form, at), spec, value, _beyond(spec)) from None
    if kind == "string":
        return pd.array(out, dtype=pd.StringDtype(na_value=np.nan))
    if kind == "boolean":
        return np.array(out, dtype=bool)
    floats = np.array(out, dtype=np.float64)
    if kind in ("long", "integer"):
        return _check_integral(floats, spec, form, values)
    return _check_floats(floats, spec, form, values)


def _check_floats(values: np.ndarray, spec: ColumnSpec, form: str, original: Sequence | None = None) -> np.ndarray:
    missing = np.isnan(values)
    if missing.any() and spec.required:
        raise _missing(_row(form, int(np.flatnonzero(missing)[0])), spec)
    with np.errstate(over="ignore"):
        cast = values.astype(_NUMPY[spec.type])
    infinite = np.flatnonzero(np.isinf(cast))
    if infinite.size:
        at = int(infinite[0])
        value = original[at] if original is not None else float(values[at])
        raise _bad_value(_row(form, at), spec, value, _beyond(spec))
    return cast


def _column(series: pd.Series, spec: ColumnSpec, form: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One column of the request, as pandas built it from JSON, checked against its spec and given its dtype."""
    dtype, kind = series.dtype, spec.type
    if kind in ("double", "float"):
        if pd.api.types.is_float_dtype(dtype):
            return _check_floats(series.to_numpy(dtype=np.float64), spec, form)
        if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            return series.to_numpy().astype(_NUMPY[kind])
    elif kind in ("long", "integer"):
        if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            values = series.to_numpy()
            info = np.iinfo(_NUMPY[kind])
            bad = np.flatnonzero((values < info.min) | (values > info.max))
            if bad.size:
                at = int(bad[0])
                raise _bad_value(_row(form, at), spec, int(values[at]), _beyond(spec))
            return values.astype(_NUMPY[kind])
        if pd.api.types.is_float_dtype(dtype):
            values = series.to_numpy(dtype=np.float64)
            missing = np.flatnonzero(np.isnan(values))
            if missing.size:
                raise _missing(_row(form, int(missing[0])), spec)
            return _check_integral(values, spec, form)
    elif kind == "boolean":
        if pd.api.types.is_bool_dtype(dtype) and dtype.kind == "b":
            return series.to_numpy(dtype=bool)
    elif kind == "string" and isinstance(dtype, pd.StringDtype):
        values = series.array
        missing = np.flatnonzero(pd.isna(values))
        if missing.size and spec.required:
            raise _missing(_row(form, int(missing[0])), spec)
        return pd.array(values, dtype=pd.StringDtype(na_value=np.nan))
    # Mixed values, or a column pandas typed otherwise than the spec needs (booleans for a number, ...).
    return _one_by_one(series.tolist(), spec, form)


def _frame_for(table: pd.DataFrame, signature: Signature, form: str, present: Sequence[str]) -> pd.DataFrame:
    missing = [name for name in signature.names if name not in set(present)]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise _refuse(
            f"The request has no column {shown}; the model needs {len(signature.names)} columns: "
            f"{', '.join(repr(n) for n in signature.names[:30])}{' …' if len(signature.names) > 30 else ''}"
            " (columns it does not need are ignored).",
            code=INVALID_PARAMETER_VALUE,
        )
    if len(table) == 0:
        raise _refuse("The request holds no rows to score.")
    columns = {spec.name: _column(table[spec.name], spec, form) for spec in signature.inputs}
    return pd.DataFrame(columns)


def _no_names(form: str) -> ScoringError:
    return _refuse(
        f'The rows of "{form}" have no column names, and the model needs its columns by name: '
        "send each row as an object of column names and values."
    )


def _records(records: object, signature: Signature, form: str) -> pd.DataFrame:
    if not isinstance(records, list):
        raise _refuse(f'"{form}" must be a list of records ({{"column": value, ...}}), not {_described(records)}.')
    if not records:
        raise _refuse("The request holds no rows to score.")
    for at, record in enumerate(records):
        if not isinstance(record, dict):
            if isinstance(record, list):
                raise _no_names(form)
            raise _refuse(f'Row {at + 1} of "{form}" is {_described(record)}, not a record ({{"column": value}}).')
    present: set = set()
    for record in records:
        present.update(record.keys())
    table = pd.DataFrame.from_records(records, columns=signature.names)
    return _frame_for(table, signature, form, [n for n in signature.names if n in present])


def _columnar(columns: dict, signature: Signature, form: str) -> pd.DataFrame:
    wanted = [name for name in signature.names if name in columns]
    values = {name: columns[name] for name in wanted}
    lists = [name for name, v in values.items() if isinstance(v, list)]
    if values and not lists:
        # One row given as {"column": value, ...}, which MLflow reads as a single row.
        if any(isinstance(v, dict) for v in values.values()):
            raise _refuse(f'"{form}" maps each column to a list of values (or a single value), not to an object.')
        values = {name: [v] for name, v in values.items()}
    elif len(lists) != len(values):
        scalar = next(name for name in wanted if name not in lists)
        raise _refuse(f'In "{form}", column {scalar!r} holds a single value while others hold lists.')
    lengths = {len(v) for v in values.values()}
    if len(lengths) > 1:
        raise _refuse(
            f'The columns of "{form}" hold different numbers of values ({", ".join(map(str, sorted(lengths)))}).'
        )
    table = pd.DataFrame(values) if values else pd.DataFrame()
    return _frame_for(table, signature, form, wanted)


def _split(payload: object, signature: Signature) -> pd.DataFrame:
    if not isinstance(payload, dict):
        raise _refuse(
            f'"dataframe_split" must be an object {{"columns": [...], "data": [[...], ...]}}, '
            f"not {_described(payload)}."
        )
    extra = set(payload) - {"columns", "data", "index"}
    if extra or "data" not in payload:
        raise _refuse(
            '"dataframe_split" holds "data" and optionally "columns" and "index"; '
            f"it has {', '.join(json.dumps(k) for k in payload) or 'nothing'}."
        )
    data, columns = payload["data"], payload.get("columns")
    if columns is None:
        raise _no_names(DF_SPLIT)
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _refuse('"dataframe_split"."columns" must be a list of column names (strings).')
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise _refuse(f'"dataframe_split"."columns" names {", ".join(repr(c) for c in twice)} more than once.')
    if not isinstance(data, list):
        raise _refuse(f'"dataframe_split"."data" must be a list of rows, not {_described(data)}.')
    if not data:
        raise _refuse("The request holds no rows to score.")
    for at, row in enumerate(data):
        if not isinstance(row, list):
            raise _refuse(f'Row {at + 1} of "dataframe_split"."data" is {_described(row)}, not a list of values.')
    widths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    wrong = np.flatnonzero(widths != len(columns))
    if wrong.size:
        at = int(wrong[0])
        raise _refuse(f'Row {at + 1} of "dataframe_split"."data" has {widths[at]} values for {len(columns)} columns.')
    index = payload.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise _refuse('"dataframe_split"."index", when given, is a list with one label per row.')
    table = pd.DataFrame(data, columns=columns)
    return _frame_for(table, signature, DF_SPLIT, columns)


def _from_json(body: bytes, signature: Signature) -> ScoringInput:
    document = _parse_json(body)
    if not isinstance(document, dict):
        raise _refuse(f"The JSON body must be an object, not {_described(document)}.")
    keys = [key for key in document if key in PAYLOAD_KEYS]
    others = [key for key in document if key not in PAYLOAD_KEYS and key != PARAMS]
    if len(keys) != 1 or others:
        found = ", ".join(json.dumps(k) for k in document) or "no keys"
        raise _refuse(f"The JSON object has {found}.")
    params = document.get(PARAMS)
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise _refuse(f'"params" must be an object of parameter names and values, not {_described(params)}.')
    form = keys[0]
    payload = document[form]
    if form == DF_SPLIT:
        frame = _split(payload, signature)
    elif form == DF_RECORDS:
        frame = _records(payload, signature, form)
    elif isinstance(payload, dict):
        frame = _columnar(payload, signature, form)
    elif isinstance(payload, list) and any(isinstance(r, dict) for r in payload):
        frame = _records(payload, signature, form)
    elif isinstance(payload, list):
        raise _no_names(form) if payload else _refuse("The request holds no rows to score.")
    else:
        raise _refuse(f'"{form}" must be records or columns of values, not {_described(payload)}.')
    return ScoringInput(frame=frame, params=params, form=form)


def _csv_column(column: pd.Series, spec: ColumnSpec) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One CSV column as pandas read it (text for string and boolean columns; an empty field is missing)."""
    if spec.type == "string":
        return _column(column, spec, CSV_FORM)
    missing = column.isna().to_numpy()
    if missing.any() and (spec.required or spec.type in ("long", "integer", "boolean")):
        raise _missing(_row(CSV_FORM, int(np.flatnonzero(missing)[0])), spec)
    if spec.type == "boolean":
        lowered = column.str.lower().to_numpy(dtype=object)
        true, false = np.isin(lowered, list(_CSV_TRUE)), np.isin(lowered, list(_CSV_FALSE))
        bad = np.flatnonzero(~(true | false))
        if bad.size:
            raise _bad_value(_row(CSV_FORM, int(bad[0])), spec, column.iloc[int(bad[0])])
        return true
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return _column(column, spec, CSV_FORM)
    # Text pandas could not read as numbers: find the field that is not one, or the number beyond the type.
    values = column.to_numpy(dtype=object)
    parsed = pd.to_numeric(pd.Series(np.where(missing, "", values.astype(str))), errors="coerce")
    numbers = parsed.to_numpy(dtype=np.float64)
    unread = np.flatnonzero(np.isnan(numbers) & ~missing)
    if unread.size:
        raise _bad_value(_row(CSV_FORM, int(unread[0])), spec, values[int(unread[0])])
    if spec.type in ("long", "integer"):
        return _check_integral(numbers, spec, CSV_FORM, values)
    return _check_floats(numbers, spec, CSV_FORM, values)


def _from_csv(body: bytes, signature: Signature) -> ScoringInput:
    # A byte-order mark is skipped, as pandas skips it when MLflow's server reads the CSV.
    text = _text(body).removeprefix("\ufeff")
    if not text.strip():
        raise _refuse("The CSV body is empty.")
    try:
        lines = (row for row in csv.reader(io.StringIO(text)) if row)
        header, first = next(lines), next(lines, None)
    except csv.Error as exc:
        raise _refuse(f"The body is not CSV with a header row: {exc}.") from None
    twice = sorted({n for n in header if header.count(n) > 1})
    if twice:
        raise _refuse(f"The CSV header names {', '.join(repr(n) for n in twice)} more than once.")
    if first is None:
        raise _refuse("The CSV has a header row but no rows to score.")
    if len(first) > len(header):
        # pandas would read the extra leading fields as an index and shift every column.
        raise _refuse(f"Line 2 of the CSV has {len(first)} fields for {len(header)} header names.")
    as_text = {spec.name: str for spec in signature.inputs if spec.type in ("string", "boolean")}
    as_float = {spec.name: "float64" for spec in signature.inputs if spec.type in ("double", "float")}
    options = {"keep_default_na": False, "na_values": [""]}
    try:
        # Numbers read straight as floats, as MLflow's server reads them; a field that is not one makes
        # pandas give up, and the columns are read again, inferred, to name it.
        table = pd.read_csv(io.StringIO(text), dtype={**as_float, **as_text}, **options)
    except (ValueError, TypeError, OverflowError):
        try:
            table = pd.read_csv(io.StringIO(text), dtype=as_text, **options)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OverflowError) as exc:
            raise _refuse(f"The body is not CSV with a header row: {str(exc).strip()}.") from None
    table.columns = header
    missing = [name for name in signature.names if name not in set(header)]
    if missing or len(table) == 0:
        return ScoringInput(frame=_frame_for(table, signature, CSV_FORM, header), form=CSV_FORM)
    columns = {spec.name: _csv_column(table[spec.name], spec) for spec in signature.inputs}
    return ScoringInput(frame=pd.DataFrame(columns), form=CSV_FORM)


def parse_request(body: bytes, content_type: str | None, signature: Signature) -> ScoringInput:
    """Read a scoring request into a frame of the signature's columns, in its order, or raise ScoringError.

    `content_type` is the request's Content-Type header as sent (None when absent). The body's size is
    the caller's to bound (MAX_BODY_BYTES) before reading it.
    """
    mime = _content_type(content_type)
    if mime == CONTENT_TYPE_CSV:
        return _from_csv(body, signature)
    return _from_json(body, signature)


# Writing the answer.


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def jsonable_predictions(predictions: object) -> list:
    """The predictions as JSON values: numpy values as Python's numbers, strings and booleans, and a value
    that is not a finite number as None."""
    if isinstance(predictions, pd.DataFrame):
        return [{k: _jsonable(v) for k, v in row.items()} for row in predictions.to_dict(orient="records")]
    if isinstance(predictions, list | tuple):
        return _clean(list(predictions))
    array = np.asarray(predictions)
    plain = array.dtype.kind in "iub" or (array.dtype.kind == "f" and bool(np.isfinite(array).all()))
    return array.tolist() if plain else _clean(array.tolist())


def format_predictions(predictions: object) -> bytes:
    """`{"predictions": [...]}` as MLflow's server writes it (numpy values as JSON numbers, strings and booleans).

    A prediction that is not a finite number is written as null, where MLflow writes NaN or Infinity,
    which JSON does not allow.
    """
    return json.dumps({"predictions": jsonable_predictions(predictions)}).encode()


def _clean(values: object) -> object:
    if isinstance(values, list | tuple):
        return [_clean(v) for v in values]
    return _jsonable(values)


# The quick lane for a few rows of plain numbers.

QUICK_ROWS = 256
"""The most rows a request may hold to be read by `NumericReader`; a larger batch is read as a frame."""
QUICK_BYTES = 256 * 1024
_QUICK_MEDIA = ("application/json", "application/json; charset=utf-8", "application/json;charset=utf-8")
_NUMBER_TYPES = frozenset((int, float))
# Whole numbers below 2**53 are exact as float64; one that reads as 2**53 or more may have been rounded to it
# (2**53 + 1 reads as 2**53), so a long column's value must read as less. Bounds are exclusive.
_EXACT_INTEGER = 2.0**53
_WHOLE_RANGE = {"long": (-_EXACT_INTEGER, _EXACT_INTEGER), "integer": (-(2.0**31) - 1, 2.0**31)}


@dataclass
class NumericInput:
    """A request of plain numbers read by `NumericReader`: a float64 matrix in the signature's column order."""

    matrix: np.ndarray
    names: tuple[str, ...]
    whole: dict[int, np.dtype]
    """The long and integer columns (by position), whose values are whole numbers, with their dtypes."""
    form: str
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.matrix)

    @property
    def frame(self) -> pd.DataFrame:
        """The frame `parse_request` reads from the same request."""
        columns = {}
        for at, name in enumerate(self.names):
            values = self.matrix[:, at]
            columns[name] = values.astype(self.whole[at]) if at in self.whole else values
        return pd.DataFrame(columns)

    def records(self, limit: int) -> list[dict]:
        """The first `limit` rows as JSON records, whole-number columns as integers."""
        rows = self.matrix[:limit].tolist()
        if self.whole:
            for row in rows:
                for at in self.whole:
                    row[at] = int(row[at])
        return [dict(zip(self.names, row, strict=True)) for row in rows]


class NumericReader:
    """Reads the requests most callers send — JSON, up to QUICK_ROWS rows of plain numbers, every column the
    signature names present — straight into a matrix, without building a frame; `read` answers None for any
    other request, which `parse_request` then reads (and refuses, if it must).

    Whatever it accepts, `parse_request` accepts too and reads as the same values: a request with anything
    unusual (a missing value, a string, a boolean, a number too large, `index`, unexpected keys, another
    charset, a byte outside ASCII) is left to `parse_request`, so the quick lane never decides a refusal or
    a conversion. A property test holds the two equal.
    """

    def __init__(self, signature: Signature) -> None:
        self.names = tuple(signature.names)
        self.whole = {at: _NUMPY[spec.type] for at, spec in enumerate(signature.inputs) if spec.type in _WHOLE_RANGE}
        self._whole_at = list(self.whole)
        self._bounds = (
            np.array([_WHOLE_RANGE[signature.inputs[at].type][0] for at in self.whole]),
            np.array([_WHOLE_RANGE[signature.inputs[at].type][1] for at in self.whole]),
        )

    @classmethod
    def for_signature(cls, signature: Signature) -> "NumericReader | None":
        """A reader for a signature of double, long and integer columns only; None for any other."""
        if all(spec.type in ("double", "long", "integer") for spec in signature.inputs):
            return cls(signature)
        return None

    def read(self, body: bytes, content_type: str | None) -> NumericInput | None:
        if content_type is None or content_type.strip() not in _QUICK_MEDIA:
            return None
        if len(body) > QUICK_BYTES or not body.isascii():
            return None
        try:
            document = json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return None
        if type(document) is not dict or not 1 <= len(document) <= 2:
            return None
        # Parameters are rare and may nest deeply (which parse_request refuses past MAX_JSON_DEPTH): left to it.
        if document.get(PARAMS):
            return None
        forms = [key for key in document if key != PARAMS]
        if len(forms) != 1 or forms[0] not in PAYLOAD_KEYS or document.get(PARAMS, {}) not in ({}, None):
            return None
        form = forms[0]
        rows = self._rows(form, document[form])
        if rows is None or not 0 < len(rows) <= QUICK_ROWS:
            return None
        for row in rows:
            if not _NUMBER_TYPES.issuperset(map(type, row)):
                return None
        try:
            matrix = np.array(rows, dtype=np.float64)
        except (OverflowError, ValueError):
            return None
        if matrix.shape != (len(rows), len(self.names)) or not np.isfinite(matrix).all():
            return None
        if self.whole:
            values = matrix[:, self._whole_at]
            low, high = self._bounds
            if not ((np.floor(values) == values) & (values > low) & (values < high)).all():
                return None
        return NumericInput(matrix, self.names, self.whole, form)

    def _rows(self, form: str, payload: object) -> list[list] | None:
        names = self.names
        try:
            if form == DF_SPLIT:
                if type(payload) is not dict or set(payload) != {"columns", "data"}:
                    return None
                columns, data = payload["columns"], payload["data"]
                if type(columns) is not list or type(data) is not list or len(set(columns)) != len(columns):
                    return None
                if not all(type(c) is str for c in columns):
                    return None
                order = {name: at for at, name in enumerate(columns)}
                picks = [order[name] for name in names]
                width = len(columns)
                rows = []
                for row in data:
                    if type(row) is not list or len(row) != width:
                        return None
                    rows.append([row[at] for at in picks])
                return rows
            if type(payload) is list and form != DF_SPLIT:
                if not all(type(record) is dict for record in payload):
                    return None
                return [[record[name] for name in names] for record in payload]
            if type(payload) is dict and form in (INSTANCES, INPUTS):
                values = [payload[name] for name in names]
                if all(type(v) is list for v in values):
                    if len({len(v) for v in values}) != 1:
                        return None
                    return [list(row) for row in zip(*values, strict=True)]
                if any(type(v) in (list, dict) for v in values):
                    return None
                return [values]
        except KeyError:
            return None
        return None
