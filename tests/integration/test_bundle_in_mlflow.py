"""The site's bundle and scoring protocol against real MLflow, run in its peer environment (peer_python("mlflow")).

One subprocess of the peer environment does MLflow's side of every check: it loads the bundle with
`mlflow.pyfunc.load_model` and predicts, reads the signature with `Model.load`, writes the same model with
`mlflow.sklearn.save_model` for a field-by-field comparison, and reads a set of scoring requests with the
scoring server's own functions (`invocations`, and the parsing and schema enforcement behind it), no
server started. The environment is built first when missing (scripts/peer_env.py; PyPI must answer).
"""

import base64
import json
import pickle
import platform
import subprocess
import sys
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from sandbox.ml import training
from sandbox.ml.bundle import bundle_files, write_bundle
from sandbox.ml.datasets import CLASSIFICATION, load_builtin
from sandbox.ml.scoring import (
    ColumnSpec,
    ScoringError,
    Signature,
    format_predictions,
    parse_request,
    signature_from_frame,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

PEER = r"""
import base64, importlib.metadata as metadata, io, json, logging, math, platform, sys, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import pandas as pd
import mlflow.pyfunc, mlflow.sklearn
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.models.utils import _enforce_schema
from mlflow.pyfunc import scoring_server

job = json.loads(open(sys.argv[1]).read())
out = {
    "mlflow": mlflow.__version__,
    "versions": {"python": platform.python_version(), **{n: metadata.version(n) for n in ("pip", "setuptools")}},
}

frame = pd.DataFrame(job["frame"]["data"], columns=job["frame"]["columns"])
model = mlflow.pyfunc.load_model(job["bundle"])
out["predictions"] = model.predict(frame).tolist()
signature = Model.load(job["bundle"]).signature
out["signature"] = signature.to_dict()
mlflow.sklearn.save_model(
    mlflow.sklearn.load_model(job["bundle"]), job["reference"], serialization_format="pickle",
    signature=signature, input_example=frame.head(3),
)

def plain(value):
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value

scorer = mlflow.pyfunc.load_model(job["scorer"])
schema = scorer.metadata.get_input_schema()
answers = []
for request in job["requests"]:
    body, content_type = base64.b64decode(request["body"]), request["content_type"]
    answer = {}
    try:
        response = scoring_server.invocations(body, content_type, scorer, schema)
        answer.update(status=response.status, response=response.response)
    except MlflowException as exc:
        answer.update(status=exc.get_http_status_code(), message=exc.message[:300])
    except Exception as exc:  # what the server's framework answers with 500
        answer.update(status=500, message=type(exc).__name__)
    try:
        # The frame the server scores: its parsing, then PyFuncModel.predict's schema enforcement.
        if content_type and content_type.startswith("text/csv"):
            data = scoring_server.parse_csv_input(io.StringIO(body.decode("utf-8")), schema)
        else:
            data = scoring_server._parse_json_data(body, scorer.metadata, schema).data
        enforced = _enforce_schema(data, schema)
        answer["frame"] = {c: [plain(v) for v in enforced[c].tolist()] for c in enforced.columns}
        answer["dtypes"] = {c: str(enforced[c].dtype) for c in enforced.columns}
    except Exception as exc:
        answer["parse_error"] = type(exc).__name__
    answers.append(answer)
out["answers"] = answers
print(json.dumps(out, default=str, allow_nan=True))
"""


@pytest.fixture(scope="module")
def peer_python() -> Path:
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "peer_env.py"), "mlflow"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip().splitlines()[-1])


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in ("scikit-learn", "numpy", "pandas", "scipy", "pip", "setuptools")},
    }


# The scorer: a model over every column type the site serves, for the protocol agreement.
SCORER_SIGNATURE = Signature(
    inputs=(
        ColumnSpec("x", "double"),
        ColumnSpec("f", "float"),
        ColumnSpec("n", "long"),
        ColumnSpec("i", "integer"),
        ColumnSpec("b", "boolean"),
        ColumnSpec("s", "string"),
    ),
    output_dtype="int64",
)
ROWS = [
    {"x": 1.5, "f": 2, "n": 3, "i": -4, "b": True, "s": "one"},
    {"x": -2, "f": 0.25, "n": 9007199254740993, "i": 2147483647, "b": False, "s": "two, with a comma"},
]
NAMES = [c.name for c in SCORER_SIGNATURE.inputs]
JSON, CSV = "application/json", "text/csv"


def _scorer() -> Pipeline:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "f": rng.normal(size=200).astype(np.float32),
            "n": rng.integers(0, 10, 200),
            "i": rng.integers(-5, 5, 200).astype(np.int32),
            "b": rng.random(200) < 0.5,
            "s": rng.choice(["one", "two, with a comma"], 200),
        }
    )
    labels = (frame["x"] + frame["b"] + (frame["s"] == "one") > 1).astype(int)
    prepare = ColumnTransformer([("s", OneHotEncoder(handle_unknown="ignore"), ["s"])], remainder="passthrough")
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))]).fit(frame, labels)


def _records(**change: object) -> bytes:
    return json.dumps({"dataframe_records": [ROWS[0], {**ROWS[1], **change}]}).encode()


def _raw(column: str, token: str) -> bytes:
    return _records(**{column: "@@"}).replace(b'"@@"', token.encode())


def _split(rows: list[dict], names: list[str] = NAMES, **extra: object) -> bytes:
    return json.dumps(
        {"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}, **extra}
    ).encode()


CSV_ROWS = b'x,f,n,i,b,s\n1.5,2,3,-4,true,one\n-2,0.25,9007199254740993,2147483647,False,"two, with a comma"\n'
REQUESTS: dict[str, tuple[bytes, str | None]] = {
    # Read by both, as the same frame.
    "split": (_split(ROWS), JSON),
    "records": (_records(), JSON),
    "instances as records": (json.dumps({"instances": ROWS}).encode(), JSON),
    "inputs as columns": (json.dumps({"inputs": {n: [r[n] for r in ROWS] for n in NAMES}}).encode(), JSON),
    "instances as columns": (json.dumps({"instances": {n: [r[n] for r in ROWS] for n in NAMES}}).encode(), JSON),
    "inputs as one row of values": (json.dumps({"inputs": ROWS[0]}).encode(), JSON),
    "csv": (CSV_ROWS, CSV),
    "csv with charset": (CSV_ROWS, "text/csv; charset=utf-8"),
    "csv with a byte-order mark": (b"\xef\xbb\xbf" + CSV_ROWS, CSV),
    "json with a byte-order mark": (b"\xef\xbb\xbf" + json.dumps({"dataframe_records": ROWS}).encode(), JSON),
    "csv booleans as 1 and 0": (CSV_ROWS.replace(b"true", b"1").replace(b"False", b"0"), CSV),
    "integers for doubles and floats": (_records(x=7, f=8), JSON),
    "whole floats for a long and an integer": (_records(n=5.0, i=6.0), JSON),
    "extra columns and another order": (_split([{**r, "extra": "x"} for r in ROWS], ["extra", *reversed(NAMES)]), JSON),
    "params": (json.dumps({"dataframe_records": ROWS, "params": {"threshold": 0.5}}).encode(), JSON),
    "json with charset": (_records(), "application/json; charset=UTF-8"),
    # Refused by both, with the same status.
    "a missing column": (
        json.dumps({"dataframe_records": [{k: v for k, v in ROWS[0].items() if k != "n"}]}).encode(),
        JSON,
    ),
    "text for a double": (_records(x="abc"), JSON),
    "null for a long": (_records(n=None), JSON),
    "an integer beyond a long": (_records(n=2**64), JSON),
    "1e400 for a long": (_raw("n", "1e400"), JSON),
    "malformed JSON": (b'{"dataframe_records": [', JSON),
    "no payload key": (b"{}", JSON),
    "two payload keys": (json.dumps({"inputs": ROWS, "instances": ROWS}).encode(), JSON),
    "a list, not an object": (json.dumps(ROWS).encode(), JSON),
    "split without column names": (json.dumps({"dataframe_split": {"data": [[1, 2, 3, 4, True, "a"]]}}).encode(), JSON),
    "records without names": (json.dumps({"dataframe_records": [[1.0, 2.0, 3, 4, True, "a"]]}).encode(), JSON),
    "a split row of the wrong width": (
        json.dumps({"dataframe_split": {"columns": NAMES, "data": [[1, 2]]}}).encode(),
        JSON,
    ),
    "split with another key": (_split(ROWS, NAMES)[:-2] + b', "x": 1}}', JSON),
    "no rows": (b'{"dataframe_records": []}', JSON),
    "text/plain": (_records(), "text/plain"),
    "charset latin-1": (_records(), "application/json; charset=latin-1"),
    "another content type parameter": (_records(), "application/json; format=pandas-split"),
    "csv text for a double": (b"x,f,n,i,b,s\nabc,1,1,1,true,a\n", CSV),
    "csv yes for a boolean": (b"x,f,n,i,b,s\n1,1,1,1,yes,a\n", CSV),
    "csv missing column": (b"x,f,n,i,b\n1,1,1,1,true\n", CSV),
    # Refused here on purpose (docs/serving.md): MLflow answers 500 ...
    "no content type": (_records(), None),
    "JSON nested 10,000 deep": (b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", JSON),
    # ... or reads a value it should not.
    "null for a double": (_records(x=None), JSON),
    "NaN": (_raw("x", "NaN"), JSON),
    "Infinity": (_raw("x", "Infinity"), JSON),
    "1e400 for a double": (_raw("x", "1e400"), JSON),
    "1e39 for a float": (_records(f=1e39), JSON),
    "text holding a number for a double": (_records(x="1.5"), JSON),
    "a boolean for a double": (_records(x=True), JSON),
    "a fraction for a long": (_records(n=1.5), JSON),
    "a number for a boolean": (_records(b=1), JSON),
    "a number for a string": (_records(s=5), JSON),
    "an integer beyond an integer": (_split([ROWS[0], {**ROWS[1], "i": 2**31}]), JSON),
    "a key beside the payload": (json.dumps({"dataframe_records": ROWS, "param": 1}).encode(), JSON),
    "params that are not an object": (json.dumps({"dataframe_records": ROWS, "params": [1]}).encode(), JSON),
}
# What MLflow does with each request refused here on purpose, as docs/serving.md says: answers 500, or reads
# the request into a frame (scored, or failing later in the model) where it should have refused it.
DIFFERENCES: dict[str, tuple] = {
    "no content type": ("500",),
    "JSON nested 10,000 deep": ("500",),
    "null for a double": ("reads", "x", None),
    "NaN": ("reads", "x", None),
    "Infinity": ("reads", "x", float("inf")),
    "1e400 for a double": ("reads", "x", float("inf")),
    "1e39 for a float": ("reads", "f", float("inf")),
    "text holding a number for a double": ("reads", "x", 1.5),
    "a boolean for a double": ("reads", "x", 1.0),
    "a fraction for a long": ("reads", "n", 1),
    "a number for a boolean": ("reads", "b", True),
    "a number for a string": ("reads", "s", 5),
    "an integer beyond an integer": ("reads", "i", -(2**31)),
    "a key beside the payload": ("reads",),
    "params that are not an object": ("reads",),
}


@pytest.fixture(scope="module")
def mlflow_side(peer_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train with the site's code, write both bundles, and run MLflow's side of every check once."""
    work = tmp_path_factory.mktemp("mlflow")
    frame = load_builtin("breast_cancer")
    result = training.train(
        frame,
        target="target",
        task=CLASSIFICATION,
        algorithm=training.ALGORITHMS["logistic_regression"],
        params={"C": 1.0, "max_iter": 1000},
        preparation=training.Preparation(impute="none", scale=True),
        split=training.Split(),
        seed=0,
    )
    features = frame.drop(columns=["target"])
    signature = signature_from_frame(frame, "target")
    ours = write_bundle(
        work / "ours",
        bundle_files(
            pipeline=result.pipeline, signature=signature, input_example=features.head(3), versions=_versions()
        ),
    )
    scorer = _scorer()
    write_bundle(
        work / "scorer",
        bundle_files(
            pipeline=scorer,
            signature=SCORER_SIGNATURE,
            input_example=pd.DataFrame(ROWS).astype({"f": np.float32, "i": np.int32}),
            versions=_versions(),
        ),
    )
    job = {
        "bundle": str(ours),
        "reference": str(work / "reference"),
        "scorer": str(work / "scorer"),
        "frame": {"columns": list(features.columns), "data": features.to_numpy().tolist()},
        "requests": [
            {"body": base64.b64encode(body).decode(), "content_type": content_type}
            for body, content_type in REQUESTS.values()
        ],
    }
    (work / "job.json").write_text(json.dumps(job))
    ran = subprocess.run(
        [str(peer_python), "-c", PEER, str(work / "job.json")], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    out = json.loads(ran.stdout)
    out.update(work=work, pipeline=result.pipeline, features=features, signature_ours=signature, scorer=scorer)
    out["answers"] = dict(zip(REQUESTS, out["answers"], strict=True))
    return out


def test_mlflow_loads_the_bundle_and_predicts_what_the_site_predicts(mlflow_side: dict) -> None:
    expected = mlflow_side["pipeline"].predict(mlflow_side["features"])
    assert mlflow_side["predictions"] == expected.tolist()
    assert 0.5 < np.mean(expected) < 0.8


def test_mlflow_reads_the_signature(mlflow_side: dict) -> None:
    read, written = mlflow_side["signature"], mlflow_side["signature_ours"].to_mlmodel()
    assert json.loads(read["inputs"]) == json.loads(written["inputs"])
    assert len(json.loads(read["inputs"])) == 30
    assert json.loads(read["outputs"]) == json.loads(written["outputs"])
    assert read["params"] is None


def test_the_bundle_is_what_mlflow_save_model_writes_field_for_field(mlflow_side: dict) -> None:
    reference = mlflow_side["work"] / "reference"
    mlmodel = yaml.safe_load((reference / "MLmodel").read_text())
    created = datetime.fromisoformat(mlmodel["utc_time_created"])
    files = bundle_files(
        pipeline=mlflow_side["pipeline"],
        signature=mlflow_side["signature_ours"],
        input_example=mlflow_side["features"].head(3),
        versions={**_versions(), **mlflow_side["versions"]},
        model_uuid=mlmodel["model_uuid"],
        created=created,
    )
    assert mlflow_side["mlflow"] == "3.17.2"
    assert sorted(p.name for p in reference.iterdir()) == sorted(set(files) - {"Dockerfile"})
    for name in sorted(set(files) - {"Dockerfile", "model.pkl", "MLmodel"}):
        assert files[name] == (reference / name).read_bytes(), name
    # Byte for byte but for the model's size: MLflow pickles the pipeline it loaded, which pickles a few
    # bytes longer. Each MLmodel counts its own model and examples.
    theirs = {name: (reference / name).read_bytes() for name in files if name != "Dockerfile"}
    for bundle in (files, theirs):
        size = sum(len(bundle[name]) for name in ("model.pkl", "input_example.json", "serving_input_example.json"))
        assert yaml.safe_load(bundle["MLmodel"])["model_size_bytes"] == size
    assert _without_size(files["MLmodel"]) == _without_size(theirs["MLmodel"])
    features = mlflow_side["features"]
    expected = mlflow_side["pipeline"].predict(features)
    np.testing.assert_array_equal(pickle.loads(theirs["model.pkl"]).predict(features), expected)
    np.testing.assert_array_equal(pickle.loads(files["model.pkl"]).predict(features), expected)


def _without_size(mlmodel: bytes) -> list[bytes]:
    return [line for line in mlmodel.splitlines() if not line.startswith(b"model_size_bytes:")]


def _ours(name: str) -> object:
    body, content_type = REQUESTS[name]
    try:
        return parse_request(body, content_type, SCORER_SIGNATURE)
    except ScoringError as refusal:
        return refusal


@pytest.mark.parametrize("name", list(REQUESTS))
def test_mlflow_and_the_site_agree_on_each_request_unless_the_docs_say_they_differ(
    mlflow_side: dict, name: str
) -> None:
    ours, theirs = _ours(name), mlflow_side["answers"][name]
    if not isinstance(ours, ScoringError):
        assert theirs["status"] == 200, theirs
        frame = {c: [None if pd.isna(v) else v for v in ours.frame[c].tolist()] for c in ours.frame.columns}
        assert theirs["frame"] == frame
        for column in ("x", "f", "n", "i", "b"):
            assert theirs["dtypes"][column] == str(ours.frame[column].dtype)
        assert theirs["response"] == format_predictions(mlflow_side["scorer"].predict(ours.frame)).decode()
    elif name in DIFFERENCES:
        expected = DIFFERENCES[name]
        if expected[0] == "500":
            assert theirs["status"] == 500, theirs
        else:
            assert "frame" in theirs, theirs
            if len(expected) == 3:
                # The second row's value, as MLflow read it instead of refusing it.
                assert theirs["frame"][expected[1]][1] == expected[2], theirs["frame"]
        assert 400 <= ours.status < 500
    else:
        assert theirs["status"] == ours.status, (theirs, ours.message)
        assert "frame" not in theirs or theirs["status"] != 200
