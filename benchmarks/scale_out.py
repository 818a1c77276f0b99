"""The sandbox's whole path through the production topology with two workers, then with one (issue 16).

The topology and the path are scripts/scale_out.py's, as `make scale-out-demo` and tests/integration/test_scale_out.py
run them: moto's S3 server as the object store, a private Redis, a copy of a prepared PostgreSQL database, one web
process under the README's gunicorn command and N Celery workers (`--concurrency 1` each), every process with its
own empty DATA_DIR. The path, over HTTP: sign up, upload a CSV, add a version, queue `--runs` training runs and wait
for them, register the best, deploy it, create a token, POST 25 rows to /serve/<endpoint>/invocations, download the
bundle, and run a drift report on an uploaded batch. Each topology is started afresh (not timed); the path is timed
from the sign-up to the finished drift report, and its training from the first run queued to the last one trained.
Each count runs `--repeats` times, the order alternating (2, 1, then 1, 2, ...), and the medians are printed.

    .venv/bin/python benchmarks/scale_out.py [--runs 8] [--repeats 3]

Needs PostgreSQL at SCALE_OUT_POSTGRES (default postgres://127.0.0.1:5432/postgres) and the dev requirements (moto).
Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from scale_out import at_least_one, demo, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=at_least_one, default=8, help="training runs the path queues (default 8)")
    parser.add_argument("--repeats", type=at_least_one, default=3, help="paths per worker count (default 3)")
    args = parser.parse_args()
    results = demo([2, 1], args.runs, keep=False, repeats=args.repeats)
    whole = {n: median([r.seconds for r in done]) for n, done in results.items()}
    training = {n: median([r.training_seconds for r in done]) for n, done in results.items()}
    print(f"RESULT scale-out path two workers: {whole[2]:.1f} s")
    print(f"RESULT scale-out path one worker: {whole[1]:.1f} s")
    print(f"RESULT scale-out path one worker / two workers: {whole[1] / whole[2]:.2f} x")
    print(f"RESULT scale-out training two workers: {training[2]:.1f} s")
    print(f"RESULT scale-out training one worker: {training[1]:.1f} s")
    print(f"RESULT scale-out training one worker / two workers: {training[1] / training[2]:.2f} x")


if __name__ == "__main__":
    main()
