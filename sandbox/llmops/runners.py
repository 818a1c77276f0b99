"""The job that evaluates a RAG configuration version on the golden set, question by question."""

from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner
from sandbox.llmops import services
from sandbox.tracking.services import runs_fail_with_job


@register_runner(services.RAG_EVAL, label="RAG evaluation", on_fail=runs_fail_with_job)
def run_rag_evaluation(job: Job, on_progress: ProgressCallback) -> dict:
    run_ids = job.params["run_ids"]
    result: dict = {}
    for run_id in run_ids:
        result = services.evaluation_run(run_id=run_id, on_progress=on_progress)
    return result
