"""A task that does nothing, so that training_overhead.py can time Celery's own dispatch on the same worker.

The worker subprocess imports this module (`-I _celery_noop`, with this folder on PYTHONPATH) and the
benchmark imports it too, so both register the task under the same name.
"""

from mlopslab.celery import app

NOOP_TASK = "benchmarks.noop"


@app.task(name=NOOP_TASK)
def noop() -> None:
    return None
