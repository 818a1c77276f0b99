"""The validation gate, run as a background job."""

from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner
from sandbox.registry import services


@register_runner(services.GATE, label="Validation gate", on_fail=services.validations_fail_with_job)
def run_gate(job: Job, on_progress: ProgressCallback) -> dict:
    validation = services.validation_run(validation_id=job.params["validation_id"], on_progress=on_progress)
    return {"validation_id": validation.pk, "status": validation.status, "outcome": validation.outcome}
