"""The incident drill's jobs: the drill itself (its endpoint going live, the baseline, the fault and the traffic
under it) and the check of the learner's fix. Both end the drill when they fail, by whatever route."""

from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner
from sandbox.monitoring import drills


@register_runner(drills.DRILL, label="Incident drill", on_fail=drills.drill_fail_with_job)
def run_drill(job: Job, on_progress: ProgressCallback) -> dict:
    return drills.drill_run(job=job, on_progress=on_progress)


@register_runner(drills.DRILL_VERIFY, label="Incident drill: checking the fix", on_fail=drills.drill_fail_with_job)
def run_drill_verify(job: Job, on_progress: ProgressCallback) -> dict:
    return drills.drill_verify_run(job=job, on_progress=on_progress)
