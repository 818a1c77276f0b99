from celery import shared_task

from sandbox.monitoring import services


@shared_task(name="sandbox.tasks.check_drift_policies", ignore_result=True)
def check_drift_policies() -> int:
    """Beat's round of the drift policies (CELERY_BEAT_SCHEDULE): checks due by time or requests, canaries."""
    return services.policies_tick()
