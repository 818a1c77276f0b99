"""The jobs that train runs: one run, or every run of a sweep, one after another."""

from celery.exceptions import SoftTimeLimitExceeded

from sandbox.jobs.models import Job
from sandbox.jobs.registry import JobError, ProgressCallback, register_runner
from sandbox.tracking import services


@register_runner(services.SWEEP, label="Parameter sweep", on_fail=services.runs_fail_with_job)
@register_runner(services.TRAIN_RUN, label="Training run", on_fail=services.runs_fail_with_job)
def run_training(job: Job, on_progress: ProgressCallback) -> dict:
    """Train the job's runs one after another: one run, or every run of a sweep."""
    run_ids = job.params["run_ids"]
    errors = []
    share = 100 / len(run_ids)
    for index, run_id in enumerate(run_ids):

        def run_progress(percent: int, message: str, index: int = index) -> None:
            prefix = f"Run {index + 1} of {len(run_ids)}: " if len(run_ids) > 1 else ""
            on_progress(int(index * share + percent * share / 100), prefix + message)

        try:
            services.run_train(run_id=run_id, on_progress=run_progress)
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            errors.append(str(exc))
    if len(errors) == len(run_ids):
        raise JobError(errors[0] if len(errors) == 1 else f"All {len(errors)} runs failed; the first: {errors[0]}")
    return {"runs": len(run_ids), "failed": len(errors)}
