"""The first-model demo: the one kind of job the jobs capability runs itself."""

from dataclasses import asdict

from mlopslab.lazy import lazy_module
from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner

# scikit-learn loads when the job runs, on a worker.
first_model = lazy_module("sandbox.ml.first_model")

FIRST_MODEL = "first_model"


@register_runner(FIRST_MODEL, label="Train a first model")
def run_first_model(job: Job, on_progress: ProgressCallback) -> dict:
    result = first_model.train_first_model(
        epochs=int(job.params.get("epochs", 20)), seed=int(job.params.get("seed", 0)), on_progress=on_progress
    )
    return asdict(result)
