"""MLflow's side of benchmarks/serving.py, run by the MLflow peer environment's python: save the
Lab's fitted pipeline as MLflow model directories, for `mlflow models serve`.

The pipeline is the very file the Lab's worker wrote for the run (its SHA-256 is checked before it is
unpickled). It is saved twice with `mlflow.sklearn.save_model`: `<out>/defaults` with its defaults (no
signature, so the server checks no schema), and `<out>/with-signature` with the registered version's own input
signature, so that the server enforces the schema the Lab's endpoint enforces.

    python=$(.venv/bin/python scripts/peer_env.py mlflow)
    "$python" benchmarks/_mlflow_save.py <model.joblib> <sha256> <signature.json> <out>
"""

import hashlib
import io
import os
import sys
from pathlib import Path


def main() -> None:
    model_file, sha256, signature_file, out = sys.argv[1:5]
    content = Path(model_file).read_bytes()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise SystemExit(f"{model_file} does not match its SHA-256; it is not loaded.")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import joblib
    import mlflow.sklearn
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema

    pipeline = joblib.load(io.BytesIO(content))  # the bytes that were checked
    signature = ModelSignature(inputs=Schema.from_json(Path(signature_file).read_text()))
    mlflow.sklearn.save_model(pipeline, str(Path(out) / "defaults"))
    mlflow.sklearn.save_model(pipeline, str(Path(out) / "with-signature"), signature=signature)


if __name__ == "__main__":
    main()
