"""A task that reports the BLAS and OpenMP thread pools of the process that runs it, for test_worker_threads.py.

The worker subprocess imports this module (`-I tests.integration.thread_probe`) and the test imports it
too, so both know the task by the same name.
"""

import os
import time

from mlopslab.celery import app

PROBE_TASK = "tests.thread_probe"


@app.task(name=PROBE_TASK)
def thread_probe(hold: float = 0.0) -> dict:
    # What a training run loads: scikit-learn's OpenMP runtime, SciPy's and NumPy's OpenBLAS.
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_info

    time.sleep(hold)
    return {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "pools": [
            {"api": p["internal_api"], "file": p["filepath"], "threads": p["num_threads"]} for p in threadpool_info()
        ],
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
