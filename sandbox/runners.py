"""What each kind of job does once a worker has claimed it.

A runner takes the claimed job and a progress callback and returns the result
to keep on the row. It raises `JobError` with a sentence a learner can act on;
any other exception is reported as unexpected.
"""

from collections.abc import Callable
from dataclasses import asdict

from sandbox.ml.first_model import ProgressCallback, train_first_model
from sandbox.models import Job

Runner = Callable[[Job, ProgressCallback], dict]


class JobError(Exception):
    """A failure whose message is written for the learner."""


def run_first_model(job: Job, on_progress: ProgressCallback) -> dict:
    result = train_first_model(
        epochs=int(job.params.get("epochs", 20)), seed=int(job.params.get("seed", 0)), on_progress=on_progress
    )
    return asdict(result)


RUNNERS: dict[str, Runner] = {
    Job.Kind.FIRST_MODEL: run_first_model,
}
