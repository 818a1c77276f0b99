"""MLflow's side of benchmarks/lifecycle.py, run by the MLflow peer environment's python.

One lifecycle is what an MLflow user writes: start a run, fit StandardScaler + LogisticRegression on
breast_cancer (the split the Lab uses: 20 % test, 20 % validation, stratified, seed 42), log the parameters
and the validation metrics, `mlflow.sklearn.log_model` with its defaults, `mlflow.register_model`, and
`MlflowClient.set_registered_model_alias`. The tracking and registry store is SQLite in the folder given,
with the artifacts beside it, so nothing leaves that folder.

The process stays up, as the Lab's worker does, so imports and connections are warm: each line `run` on
stdin does one lifecycle and answers `SECONDS <wall seconds>` on stdout; end of input ends it.

    "$(.venv/bin/python scripts/peer_env.py mlflow)" benchmarks/_mlflow_lifecycle.py <store folder>
"""

import os
import sys
import time
from pathlib import Path

MODEL_NAME = "breast-cancer"
ALIAS = "challenger"


def main() -> None:
    store = Path(sys.argv[1]).resolve()
    store.mkdir(parents=True, exist_ok=True)
    # The machine is offline; telemetry would only try the network.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    client = MlflowClient()
    experiment_id = client.create_experiment("lifecycle", artifact_location=(store / "artifacts").as_uri())
    features, labels = load_breast_cancer(return_X_y=True, as_frame=True)

    def lifecycle() -> None:
        x_rest, _, y_rest, _ = train_test_split(features, labels, test_size=0.2, random_state=42, stratify=labels)
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=0.25, random_state=42, stratify=y_rest
        )
        with mlflow.start_run(experiment_id=experiment_id):
            pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=1.0, max_iter=1000))])
            pipeline.fit(x_train, y_train)
            predicted = pipeline.predict(x_val)
            mlflow.log_params({"algorithm": "logistic_regression", "C": 1.0, "max_iter": 1000, "seed": 42})
            mlflow.log_metrics(
                {
                    "val_accuracy": accuracy_score(y_val, predicted),
                    "val_precision": precision_score(y_val, predicted),
                    "val_recall": recall_score(y_val, predicted),
                    "val_f1": f1_score(y_val, predicted),
                }
            )
            logged = mlflow.sklearn.log_model(pipeline, name="model")
        version = mlflow.register_model(logged.model_uri, MODEL_NAME)
        client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version)

    for line in sys.stdin:
        if line.strip() != "run":
            continue
        started = time.perf_counter()
        lifecycle()
        print(f"SECONDS {time.perf_counter() - started:.6f}", flush=True)


if __name__ == "__main__":
    main()
