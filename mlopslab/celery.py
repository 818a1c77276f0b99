import logging
import os

import redis
from celery import Celery, bootsteps
from celery.signals import worker_process_init

from mlopslab.broker import HEARTBEAT_SECONDS, worker_heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopslab.settings")

logger = logging.getLogger(__name__)

app = Celery("mlopslab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """Write the worker's heartbeat to Redis every few seconds while it consumes, for /healthz.

    A step of the consumer, so it runs on the worker's own event loop: it starts once the worker
    is connected and consuming, and stops while the connection is being re-established, so a
    worker that lost Redis or hangs falls silent as it should. Celery's own heartbeats are only
    sent with task events switched on, which `make run` does not do.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry = None
        # The Redis this worker was built to consume from, read once: app.conf.broker_url may be
        # pointed elsewhere later in the same process (the test suite runs a worker thread beside
        # tests that start Redis servers of their own), and the heartbeat must tell where this
        # worker takes jobs from, not where the process would publish now.
        self.url = parent.app.conf.broker_url

    def start(self, parent: object) -> None:
        self.beat(parent)
        self.timer_entry = parent.timer.call_repeatedly(HEARTBEAT_SECONDS, self.beat, (parent,))

    def stop(self, parent: object) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop

    def beat(self, parent: object) -> None:
        try:
            worker_heartbeat(self.url, worker=parent.hostname)
        except redis.RedisError as exc:
            # The consumer notices a lost broker by itself and restarts this step once reconnected.
            logger.debug("could not write the worker heartbeat: %s", exc)


app.steps["consumer"].add(Heartbeat)

# Each pool child trains on one core: BLAS (OpenBLAS) and OpenMP (scikit-learn's trees, kNN) start
# one thread per core by default, and two busy children with two threads each on two cores ran
# training 3.2x slower than with one thread each. The names are read by a library when it loads.
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
# The limits of a child's already loaded libraries, kept for the child's lifetime.
_thread_limits = None


@worker_process_init.connect
def one_thread_per_pool_child(**kwargs: object) -> None:
    """Limit BLAS and OpenMP to one thread in a prefork child, before it runs any task.

    Libraries the child loads later read the environment; those forked already loaded (the main
    process imported them with the tasks) are limited through threadpoolctl.
    """
    global _thread_limits
    for name in ONE_THREAD:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    _thread_limits = threadpool_limits(limits=1)
