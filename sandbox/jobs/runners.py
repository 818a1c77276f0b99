"""The first-model demo: the one kind of job the jobs capability runs itself."""

from dataclasses import asdict

from sandbox.jobs.models import Job
from sandbox.jobs.registry import register_runner
from sandbox.ml.first_model import ProgressCallback, train_first_model

FIRST_MODEL = "first_model"


@register_runner(FIRST_MODEL, label="Train a first model")
def run_first_model(job: Job, on_progress: ProgressCallback) -> dict:
    result = train_first_model(
        epochs=int(job.params.get("epochs", 20)), seed=int(job.params.get("seed", 0)), on_progress=on_progress
    )
    return asdict(result)
