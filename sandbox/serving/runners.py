"""The deploy job: bundle, store, smoke-test, switch traffic."""

from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner
from sandbox.serving import services


@register_runner(services.DEPLOY, label="Deploy", on_fail=services.release_fail_with_job)
def run_deploy(job: Job, on_progress: ProgressCallback) -> dict:
    release = services.release_run(release_id=job.params["release_id"], on_progress=on_progress)
    return {"release_id": release.pk, "status": release.status}
