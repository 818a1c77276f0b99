"""Monitoring's jobs: the traffic simulator, a drift report, and a retraining."""

from django.utils import timezone

from sandbox.jobs.models import Job
from sandbox.jobs.registry import ProgressCallback, register_runner
from sandbox.monitoring import services
from sandbox.monitoring.models import DriftReport


@register_runner(services.TRAFFIC, label="Simulated traffic", on_fail=services.traffic_fail_with_job)
def run_traffic(job: Job, on_progress: ProgressCallback) -> dict:
    from sandbox.serving.services import api_token_create, api_token_revoke

    # The simulator calls the endpoint with a token of the learner's own, as any client would, revoked when it
    # stops; only its hash is ever stored.
    row, token = api_token_create(owner=job.owner, name=f"Traffic simulator (job {job.pk})")
    try:
        run = services.traffic_send(run_id=job.params["traffic_run_id"], on_progress=on_progress, token=token)
    finally:
        api_token_revoke(token=row)
    return {"traffic_run_id": run.pk, "sent": run.sent, "answered": run.answered, "refused": run.refused}


@register_runner(services.DRIFT_REPORT, label="Drift report", on_fail=services.report_fail_with_job)
def run_drift_report(job: Job, on_progress: ProgressCallback) -> dict:
    report = DriftReport.objects.select_related("deployment", "version").get(pk=job.params["report_id"])
    if report.status != DriftReport.Status.PENDING:
        return {"report_id": report.pk}
    report = services.report_compute(report, on_progress=on_progress)
    return {"report_id": report.pk, "dataset_drift": report.dataset_drift, "at": timezone.now().isoformat()}


@register_runner(services.RETRAIN, label="Retraining", on_fail=services.retrain_fail_with_job)
def run_retrain(job: Job, on_progress: ProgressCallback) -> dict:
    return services.retrain_run(job=job, on_progress=on_progress)
