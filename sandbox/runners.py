"""What each kind of job does once a worker has claimed it.

A runner takes the claimed job and a progress callback and returns the result
to keep on the row. It raises `JobError` with a sentence a learner can act on;
any other exception is reported as unexpected.
"""

from collections.abc import Callable
from dataclasses import asdict

from celery.exceptions import SoftTimeLimitExceeded

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


def run_training(job: Job, on_progress: ProgressCallback) -> dict:
    """Train the job's runs one after another: one run, or every run of a sweep."""
    from sandbox import tracking

    run_ids = job.params["run_ids"]
    errors = []
    share = 100 / len(run_ids)
    for index, run_id in enumerate(run_ids):

        def run_progress(percent: int, message: str, index: int = index) -> None:
            prefix = f"Run {index + 1} of {len(run_ids)}: " if len(run_ids) > 1 else ""
            on_progress(int(index * share + percent * share / 100), prefix + message)

        try:
            tracking.run_train(run_id=run_id, on_progress=run_progress)
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            errors.append(str(exc))
    if len(errors) == len(run_ids):
        raise JobError(errors[0] if len(errors) == 1 else f"All {len(errors)} runs failed; the first: {errors[0]}")
    return {"runs": len(run_ids), "failed": len(errors)}


RUNNERS: dict[str, Runner] = {
    Job.Kind.FIRST_MODEL: run_first_model,
    Job.Kind.TRAIN_RUN: run_training,
    Job.Kind.SWEEP: run_training,
}
