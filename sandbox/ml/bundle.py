"""A deployable model bundle: a valid MLflow model directory, as `mlflow.sklearn.save_model` writes it
(mlflow 3.17.2, serialization format "pickle"), plus the Dockerfile a team would serve it with.

The directory holds `MLmodel` (the `python_function` and `sklearn` flavors, the input signature and the
input example's description), `model.pkl`, `input_example.json`, `serving_input_example.json`,
`requirements.txt`, `python_env.yaml`, `conda.yaml` and `Dockerfile`. `mlflow.pyfunc.load_model` loads it
and `mlflow models serve` serves it. Every file is the same for the same pipeline and versions, except
MLmodel's `model_uuid` and `utc_time_created`, which the caller may fix too.
"""

import io
import json
import pickle
import uuid
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from sandbox.ml.scoring import Signature

MLFLOW_FORMAT_VERSION = "3.17.2"
"""The MLflow release whose `save_model` output the bundle matches field for field (and its requirements pin)."""
MODEL_FILE = "model.pkl"
INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_INPUT_FILE = "serving_input_example.json"
FILES = (
    "MLmodel",
    MODEL_FILE,
    INPUT_EXAMPLE_FILE,
    SERVING_INPUT_FILE,
    "requirements.txt",
    "python_env.yaml",
    "conda.yaml",
    "Dockerfile",
)
# The packages MLflow's requirement inference finds for a scikit-learn pipeline, in the order it writes them.
REQUIRED_VERSIONS = ("python", "scikit-learn")
PINNED = ("numpy", "pandas", "scikit-learn", "scipy")
SERVE_PORT = 8080
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _example_split(example: pd.DataFrame) -> dict:
    """The input example as MLflow stores a frame: pandas' split orient without the index, missing values null."""
    values = example.astype(object).where(example.notna(), None)
    return {"columns": [str(c) for c in example.columns], "data": values.to_numpy().tolist()}


def _requirements(versions: Mapping[str, str]) -> list[str]:
    pins = [f"mlflow=={MLFLOW_FORMAT_VERSION}"]
    pins += [f"{name}=={versions[name]}" for name in PINNED if versions.get(name)]
    return pins


def _build_dependencies(versions: Mapping[str, str]) -> list[str]:
    return [f"{name}=={versions[name]}" if versions.get(name) else name for name in ("pip", "setuptools", "wheel")]


def _dockerfile(versions: Mapping[str, str]) -> str:
    python = ".".join(versions["python"].split(".")[:2])
    return f"""\
# Serves this model with MLflow's own scoring server, as the endpoint it was deployed to answers:
#   docker build -t my-model . && docker run --rm -p {SERVE_PORT}:{SERVE_PORT} my-model
#   curl -s localhost:{SERVE_PORT}/invocations -H 'Content-Type: application/json' -d @{SERVING_INPUT_FILE}
FROM python:{python}-slim
WORKDIR /opt/ml/model
# requirements.txt pins mlflow beside the libraries the model was trained with, so the pickle loads.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . /opt/ml/model
# The server needs no privileges: it runs as a user of its own, which cannot change the model's files.
RUN useradd --system --no-create-home --uid 10001 model
USER model
EXPOSE {SERVE_PORT}
CMD ["mlflow", "models", "serve", "-m", "/opt/ml/model", \\
     "-h", "0.0.0.0", "-p", "{SERVE_PORT}", "--env-manager", "local"]
"""


def _yaml(document: object, *, sort_keys: bool = True) -> bytes:
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=sort_keys).encode()


def bundle_files(
    *,
    pipeline: object,
    signature: Signature,
    input_example: pd.DataFrame,
    versions: Mapping[str, str],
    model_uuid: str | None = None,
    created: datetime | None = None,
) -> dict[str, bytes]:
    """Every file of the bundle by name, in FILES order.

    `pipeline` is the fitted scikit-learn estimator to pickle; `input_example` a few rows of its input
    columns; `versions` the versions it was trained with: `python` and `scikit-learn`, and when known
    `numpy`, `pandas`, `scipy` (pinned in requirements.txt) and `pip`, `setuptools`, `wheel` (the build
    dependencies of python_env.yaml). `model_uuid` and `created` (UTC) default to a new uuid and now.
    """
    missing = [name for name in REQUIRED_VERSIONS if not versions.get(name)]
    if missing:
        raise ValueError(f"The bundle needs the versions of {', '.join(missing)}.")
    unknown = [str(c) for c in input_example.columns if str(c) not in signature.names]
    if unknown or len(input_example) == 0:
        raise ValueError("The input example needs at least one row, of the signature's columns only.")
    example = _example_split(input_example)
    model = pickle.dumps(pipeline, protocol=pickle.DEFAULT_PROTOCOL)
    example_json = json.dumps(example).encode()
    serving_json = json.dumps({"dataframe_split": example}, indent=2).encode()
    created = created or datetime.now(UTC)
    python = versions["python"]
    mlmodel = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
                "python_version": python,
            },
            "sklearn": {
                "code": None,
                "pickled_model": MODEL_FILE,
                "serialization_format": "pickle",
                "sklearn_version": versions["scikit-learn"],
                "skops_trusted_types": None,
            },
        },
        "is_signature_from_type_hint": False,
        "mlflow_version": MLFLOW_FORMAT_VERSION,
        "model_id": None,
        # MLflow counts the files written before MLmodel: the model and the two examples.
        "model_size_bytes": len(model) + len(example_json) + len(serving_json),
        "model_uuid": model_uuid or uuid.uuid4().hex,
        "prompts": None,
        "saved_input_example_info": {
            "artifact_path": INPUT_EXAMPLE_FILE,
            "pandas_orient": "split",
            "serving_input_path": SERVING_INPUT_FILE,
            "type": "dataframe",
        },
        "signature": signature.to_mlmodel(),
        "type_hint_from_example": False,
        "utc_time_created": created.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
    }
    requirements = _requirements(versions)
    pip = versions.get("pip")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", f"pip<={pip}" if pip else "pip", {"pip": requirements}],
        "name": "mlflow-env",
    }
    python_env = {
        "python": python,
        "build_dependencies": _build_dependencies(versions),
        "dependencies": ["-r requirements.txt"],
    }
    return {
        "MLmodel": _yaml(mlmodel),
        MODEL_FILE: model,
        INPUT_EXAMPLE_FILE: example_json,
        SERVING_INPUT_FILE: serving_json,
        "requirements.txt": "\n".join(requirements).encode(),
        "python_env.yaml": _yaml(python_env, sort_keys=False),
        "conda.yaml": _yaml(conda),
        "Dockerfile": _dockerfile(versions).encode(),
    }


def write_bundle(directory: Path, files: Mapping[str, bytes]) -> Path:
    """Write the bundle's files into `directory` (created; it must not hold another bundle) and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "MLmodel").exists():
        raise FileExistsError(f"{directory} already holds a model.")
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return directory


def bundle_zip(files: Mapping[str, bytes], *, folder: str = "model") -> bytes:
    """The bundle as a zip archive of one folder, the same bytes for the same files (fixed times and modes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(f"{folder}/{name}", date_time=_ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[name])
    return buffer.getvalue()
