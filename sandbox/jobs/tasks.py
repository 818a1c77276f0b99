from celery import shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure

from sandbox.jobs import services

# The Job row is the only record of how a job went, so no task keeps a result in Redis: the sender
# would otherwise subscribe to every job's result there, and a pool process that finished its job
# while Redis was away would report the task as failed for want of somewhere to store None.


@shared_task(bind=True, name=services.RUN_JOB_TASK, ignore_result=True)
def run_job(self, job_id: int) -> None:
    services.job_execute(job_id=job_id, redelivered=bool((self.request.delivery_info or {}).get("redelivered")))


@task_failure.connect(sender=run_job)
def _fail_job_with_its_task(
    sender: object, task_id: str, exception: BaseException, args: list, **kwargs: object
) -> None:
    # Runs in the worker's main process when the pool child could not record
    # the end itself: a hard time limit killed it, or the claim itself raised.
    if isinstance(exception, TimeLimitExceeded):
        error = "The job took longer than its hard time limit and was stopped."
    else:
        error = f"The job failed unexpectedly: {type(exception).__name__}: {exception}"
    services.job_fail(job_id=args[0], error=error)


@shared_task(name="sandbox.tasks.fail_abandoned_jobs", ignore_result=True)
def fail_abandoned_jobs() -> int:
    return services.jobs_fail_abandoned()


@shared_task(name="sandbox.tasks.send_queued_jobs_again", ignore_result=True)
def send_queued_jobs_again() -> int:
    return services.jobs_send_again()
