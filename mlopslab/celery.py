import logging
import os

import redis
from celery import Celery, bootsteps

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
            worker_heartbeat(parent.app.conf.broker_url, worker=parent.hostname)
        except redis.RedisError as exc:
            # The consumer notices a lost broker by itself and restarts this step once reconnected.
            logger.debug("could not write the worker heartbeat: %s", exc)


app.steps["consumer"].add(Heartbeat)
