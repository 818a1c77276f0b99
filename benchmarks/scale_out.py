"""The sandbox's whole path through the production topology with two workers, then with one (issue 16).

The topology and the path are scripts/scale_out.py's, as `make scale-out-demo` and tests/integration/test_scale_out.py
run them: moto's S3 server as the object store, a private Redis, a copy of a prepared PostgreSQL database, one web
process under the README's gunicorn command and N Celery workers (`--concurrency 1` each), every process with its
own empty DATA_DIR. The path, over HTTP: sign up, upload a CSV, add a version, queue `--runs` training runs and wait
for them, register the best, deploy it, create a token, POST 25 rows to /serve/<endpoint>/invocations, download the
bundle, and run a drift report on an uploaded batch. Each topology is started afresh (not timed); the path is timed
from the sign-up to the finished drift report.

    .venv/bin/python benchmarks/scale_out.py [--runs 6]

Needs PostgreSQL at SCALE_OUT_POSTGRES (default postgres://127.0.0.1:5432/postgres) and the dev requirements (moto).
Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from scale_out import at_least_one, demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=at_least_one, default=6, help="training runs the path queues (default 6)")
    args = parser.parse_args()
    timings = demo([2, 1], args.runs, keep=False)
    print(f"RESULT scale-out path two workers: {timings[2]:.1f} s")
    print(f"RESULT scale-out path one worker: {timings[1]:.1f} s")
    print(f"RESULT scale-out path one worker / two workers: {timings[1] / timings[2]:.2f} x")


if __name__ == "__main__":
    main()
