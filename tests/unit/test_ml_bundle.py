"""The deployable bundle: an MLflow model directory as mlflow.sklearn.save_model writes it, and its zip."""

import io
import json
import pickle
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sandbox.ml.bundle import FILES, MLFLOW_FORMAT_VERSION, bundle_files, bundle_zip, write_bundle
from sandbox.ml.datasets import load_builtin
from sandbox.ml.scoring import signature_from_frame

VERSIONS = {
    "python": "3.11.7",
    "scikit-learn": "1.9.1",
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "scipy": "1.17.1",
    "pip": "23.2.1",
    "setuptools": "65.5.0",
}
UUID = "6fb3050c9372450eb15df532546af618"
CREATED = datetime(2026, 12, 2, 7, 36, 50, 534434, tzinfo=UTC)


@pytest.fixture(scope="module")
def trained() -> tuple[Pipeline, pd.DataFrame]:
    frame = load_builtin("breast_cancer")
    features = frame.drop(columns=["target"])
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
    pipeline.fit(features, frame["target"])
    return pipeline, frame


def _files(trained: tuple[Pipeline, pd.DataFrame], **changes: object) -> dict[str, bytes]:
    pipeline, frame = trained
    arguments = {
        "pipeline": pipeline,
        "signature": signature_from_frame(frame, "target"),
        "input_example": frame.drop(columns=["target"]).head(3),
        "versions": VERSIONS,
        "model_uuid": UUID,
        "created": CREATED,
    }
    return bundle_files(**{**arguments, **changes})


def test_mlmodel_has_both_flavors_the_signature_and_the_example_as_mlflow_writes_them(trained: tuple) -> None:
    files = _files(trained)
    mlmodel = yaml.safe_load(files["MLmodel"])
    size = len(files["model.pkl"]) + len(files["input_example.json"]) + len(files["serving_input_example.json"])
    signature = mlmodel.pop("signature")
    assert mlmodel == {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": "3.11.7",
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "pickle",
                "sklearn_version": "1.9.1",
                "skops_trusted_types": None,
            },
        },
        "is_signature_from_type_hint": False,
        "mlflow_version": MLFLOW_FORMAT_VERSION,
        "model_id": None,
        "model_size_bytes": size,
        "model_uuid": UUID,
        "prompts": None,
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        },
        "type_hint_from_example": False,
        "utc_time_created": "2026-12-02 07:36:50.534434",
    }
    inputs = json.loads(signature["inputs"])
    assert len(inputs) == 30
    assert inputs[0] == {"type": "double", "name": "mean radius", "required": True}
    assert json.loads(signature["outputs"]) == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]
    assert signature["params"] is None


def test_the_environment_files_pin_what_the_model_was_trained_with(trained: tuple) -> None:
    files = _files(trained)
    requirements = f"mlflow=={MLFLOW_FORMAT_VERSION}\nnumpy==2.4.6\npandas==3.1.1\nscikit-learn==1.9.1\nscipy==1.17.1"
    assert files["requirements.txt"].decode() == requirements
    assert files["python_env.yaml"].decode() == (
        "python: 3.11.7\nbuild_dependencies:\n- pip==23.2.1\n- setuptools==65.5.0\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n"
    )
    assert yaml.safe_load(files["conda.yaml"]) == {
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11.7", "pip<=23.2.1", {"pip": requirements.split("\n")}],
        "name": "mlflow-env",
    }


def test_versions_not_known_are_left_unpinned_and_python_and_scikit_learn_are_required(trained: tuple) -> None:
    files = _files(trained, versions={"python": "3.12.1", "scikit-learn": "1.9.1"})
    assert files["requirements.txt"].decode() == f"mlflow=={MLFLOW_FORMAT_VERSION}\nscikit-learn==1.9.1"
    assert b"- pip\n- setuptools\n- wheel\n" in files["python_env.yaml"]
    assert b"FROM python:3.12-slim" in files["Dockerfile"]
    with pytest.raises(ValueError, match="scikit-learn"):
        _files(trained, versions={"python": "3.11.7"})


def test_the_pickled_model_predicts_as_the_pipeline_does(trained: tuple) -> None:
    pipeline, frame = trained
    features = frame.drop(columns=["target"])
    loaded = pickle.loads(_files(trained)["model.pkl"])
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))


def test_the_input_examples_are_split_frames_without_the_index(trained: tuple) -> None:
    _, frame = trained
    files = _files(trained)
    example = json.loads(files["input_example.json"])
    assert example["columns"] == list(frame.columns[:-1])
    assert example["data"][0][:3] == [17.99, 10.38, 122.8]
    assert len(example["data"]) == 3
    assert json.loads(files["serving_input_example.json"]) == {"dataframe_split": example}
    assert files["serving_input_example.json"].startswith(b'{\n  "dataframe_split": {\n    "columns": [\n')


def test_missing_values_in_the_example_are_written_as_null(trained: tuple) -> None:
    pipeline, _ = trained
    frame = pd.DataFrame({"x": [1.0, np.nan], "plan": ["a", None], "target": [0, 1]})
    files = bundle_files(
        pipeline=pipeline,
        signature=signature_from_frame(frame, "target"),
        input_example=frame.drop(columns=["target"]),
        versions=VERSIONS,
    )
    assert json.loads(files["input_example.json"]) == {"columns": ["x", "plan"], "data": [[1.0, "a"], [None, None]]}


def test_the_dockerfile_serves_the_model_with_mlflow(trained: tuple) -> None:
    dockerfile = _files(trained)["Dockerfile"].decode()
    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "COPY . /opt/ml/model" in dockerfile
    # Not root: the user is switched to after the files are copied (owned by root, so read-only to it).
    assert dockerfile.index("USER model") > dockerfile.index("COPY . /opt/ml/model")
    command = dockerfile.split("CMD ", 1)[1].replace("\\\n", "")
    assert json.loads(command) == [
        "mlflow",
        "models",
        "serve",
        "-m",
        "/opt/ml/model",
        "-h",
        "0.0.0.0",
        "-p",
        "8080",
        "--env-manager",
        "local",
    ]


def test_the_bundle_is_the_same_apart_from_its_uuid_and_time(trained: tuple) -> None:
    first, second = _files(trained), _files(trained)
    assert first == second
    assert bundle_zip(first) == bundle_zip(second)
    other = _files(trained, model_uuid=None, created=None)
    assert [name for name in FILES if first[name] != other[name]] == ["MLmodel"]
    changed = {
        line.split(":")[0]
        for line in set(first["MLmodel"].decode().splitlines()) ^ set(other["MLmodel"].decode().splitlines())
    }
    assert changed == {"model_uuid", "utc_time_created"}


def test_the_zip_holds_every_file_in_one_folder(trained: tuple) -> None:
    files = _files(trained)
    with zipfile.ZipFile(io.BytesIO(bundle_zip(files))) as archive:
        assert sorted(archive.namelist()) == sorted(f"model/{name}" for name in FILES)
        assert {name: archive.read(f"model/{name}") for name in FILES} == files


def test_a_bundle_is_written_to_a_directory_once(trained: tuple, tmp_path: Path) -> None:
    files = _files(trained)
    directory = write_bundle(tmp_path / "bundle", files)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == files
    with pytest.raises(FileExistsError):
        write_bundle(directory, files)


def test_an_example_with_columns_outside_the_signature_is_refused(trained: tuple) -> None:
    _, frame = trained
    with pytest.raises(ValueError, match="signature's columns"):
        _files(trained, input_example=frame.head(2))
