"""A drift report's time: the Lab's detector against Evidently's DataDriftPreset on the same frames (issue 12).

Targets: 100,000 rows x 20 columns in <= 1 s and >= 10x faster than Evidently; 1,000 x 10 in <= 20 ms.

Two seeded frames, each a reference and a current window of the same size: 100,000 x 20 (16 numeric columns,
normal, skewed, uniform and wide integers, and 4 text categories; about half of them shifted in the current
window) and 1,000 x 10 (8 numeric, 2 categorical). Both are written to CSV and read back by each side, so
both test the very same values: the Lab with pandas 3 in this venv, Evidently 0.7.23 with pandas 2 in its
peer environment (scripts/peer_env.py's `evidently`), where one process imports Evidently once and then
times `Report([DataDriftPreset()]).run(current, reference)` alone, import and file reading left out. Each
figure is the median of its runs. Last, each column's score is compared with Evidently's, to show that both
computed the same tests. Each side's CPU time is printed beside its wall time: other work on the machine
stretches the wall time of both, their CPU time much less.

    .venv/bin/python benchmarks/drift.py [--runs 5] [--evidently-runs 2] [--skip-evidently]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _setup import ROOT, report

sys.path.insert(0, str(ROOT))
from sandbox.monitoring.drift import dataset_drift

PEER = r"""
import json, logging, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

job = json.loads(open(sys.argv[1]).read())
out = {}
for name, frame in job["frames"].items():
    reference = pd.read_csv(frame["reference"], float_precision="round_trip")
    current = pd.read_csv(frame["current"], float_precision="round_trip")
    seconds, cpu = [], []
    for _ in range(job["runs"]):
        started, started_cpu = time.perf_counter(), time.process_time()
        snapshot = Report([DataDriftPreset()]).run(current, reference)
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    scores = {}
    for metric in snapshot.dict()["metrics"]:
        if metric["config"]["type"] == "evidently:metric_v2:ValueDrift":
            scores[metric["config"]["column"]] = metric["value"]
    out[name] = {"seconds": seconds, "cpu": cpu, "scores": scores}
print(json.dumps(out))
"""

FRAMES = {"100k x20": (100_000, 20), "1k x10": (1_000, 10)}


def window(rng: np.random.Generator, rows: int, columns: int, shifted: bool) -> pd.DataFrame:
    """`columns` columns, a fifth of them categorical; with `shifted`, every other column moves."""
    categories = max(columns // 5, 1)
    data = {}
    for i in range(columns - categories):
        move = 0.3 if shifted and i % 2 == 0 else 0.0
        shape = i % 4
        if shape == 0:
            data[f"normal_{i}"] = rng.normal(move, 1, rows)
        elif shape == 1:
            data[f"skewed_{i}"] = rng.lognormal(move, 0.8, rows)
        elif shape == 2:
            data[f"uniform_{i}"] = rng.uniform(move, 1 + move, rows)
        else:
            data[f"count_{i}"] = rng.integers(0, 200 + int(move * 100), rows)
    for i in range(categories):
        levels = [f"level {j}" for j in range(3 + 2 * i)]
        shares = np.linspace(1, 2, len(levels))
        if shifted and i % 2 == 0:
            shares = shares[::-1]
        data[f"category_{i}"] = rng.choice(levels, rows, p=shares / shares.sum())
    return pd.DataFrame(data)


def peer_python() -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    from peer_env import PeerEnvError
    from peer_env import peer_python as build

    try:
        return build("evidently")
    except (PeerEnvError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"The Evidently peer environment cannot be built: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the Lab's detector per frame (default 5)")
    parser.add_argument("--evidently-runs", type=int, default=2, help="runs of Evidently per frame (default 2)")
    parser.add_argument("--skip-evidently", action="store_true", help="time the Lab's detector only")
    args = parser.parse_args()
    for name in ("runs", "evidently_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    with tempfile.TemporaryDirectory(prefix="mlopslab-drift-bench-") as folder:
        job: dict = {"runs": args.evidently_runs, "frames": {}}
        ours: dict[str, tuple[float, float, object]] = {}
        for number, (name, (rows, columns)) in enumerate(FRAMES.items()):
            rng = np.random.default_rng(12 + number)
            paths = {}
            for side, shifted in (("reference", False), ("current", True)):
                paths[side] = Path(folder) / f"{number}-{side}.csv"
                window(rng, rows, columns, shifted).to_csv(paths[side], index=False)
            job["frames"][name] = {side: str(path) for side, path in paths.items()}
            reference, current = pd.read_csv(paths["reference"]), pd.read_csv(paths["current"])
            dataset_drift(reference, current)  # the first call pays for scipy's lazy imports
            # Five times the runs for the small frame, whose milliseconds the machine's other work can move.
            seconds, cpu = [], []
            for _ in range(args.runs * (5 if rows < 10_000 else 1)):
                started, started_cpu = time.perf_counter(), time.process_time()
                result = dataset_drift(reference, current)
                seconds.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            ours[name] = (statistics.median(seconds), statistics.median(cpu), result)
            report(f"drift {name}", ours[name][0] * 1000, "ms")
            report(f"drift {name} cpu", ours[name][1] * 1000, "ms")
            report(f"drift {name} columns drifted", sum(c.drifted for c in result.columns), "columns", digits=0)
        if args.skip_evidently:
            return

        job_path = Path(folder) / "job.json"
        job_path.write_text(json.dumps(job))
        python = peer_python()
        print(f"Running Evidently's DataDriftPreset in {python.parent.parent} ...", file=sys.stderr, flush=True)
        ran = subprocess.run([str(python), "-c", PEER, str(job_path)], capture_output=True, text=True, timeout=1800)
        if ran.returncode != 0:
            raise SystemExit(f"Evidently's side failed:\n{ran.stderr[-3000:]}")
        theirs = json.loads(ran.stdout.strip().splitlines()[-1])

    for name, (seconds, cpu, result) in ours.items():
        evidently, evidently_cpu = statistics.median(theirs[name]["seconds"]), statistics.median(theirs[name]["cpu"])
        report(f"evidently {name}", evidently * 1000, "ms")
        report(f"evidently {name} cpu", evidently_cpu * 1000, "ms")
        report(f"drift {name} vs evidently", evidently / seconds, "x")
        report(f"drift {name} vs evidently cpu", evidently_cpu / cpu, "x")
        scores = theirs[name]["scores"]
        same = sum(bool(np.isclose(c.score, scores[c.column], rtol=1e-9, atol=1e-12)) for c in result.columns)
        report(f"drift {name} scores equal to evidently", same, f"of {len(result.columns)} columns", digits=0)


if __name__ == "__main__":
    main()
