"""Time `make run` from process start to the first 200 from /healthz, on a first and a second start.

Runs the real path, scripts/run.sh (bootstrap, `manage.py prepare`, then honcho with the Procfile's
web, worker and beat), on a throw-away DATA_DIR and a free WEB_PORT. The first start migrates an
empty database and loads the whole course; the second start finds both done, as a developer's
every start after the first does. After each start the whole process tree is stopped (SIGTERM to
honcho, then SIGKILL to whatever is left after a bounded wait). Last, `manage.py sync_content` is
timed on the loaded database, where nothing has changed.

Redis: by default an embedded redis-server on a free port, started by run.sh itself because nothing
answers there, so the benchmark shares no queue with anything else; `--redis-url` uses one that
answers instead (e.g. redis://127.0.0.1:6379/13).

    .venv/bin/python benchmarks/startup.py [--second-starts 1] [--redis-url URL] [--keep]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`. Issue 10's target: the second
start within 5 s.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import report  # noqa: E402

TARGET_SECOND_START = 5.0
START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0
# Lines of the combined log worth a time stamp, to show where a start spends its time.
MILESTONES = {
    "prepare done": ("Using the Redis that answers", "Nothing answers at"),
    "runserver listening": ("Starting development server at",),
    "worker ready": (" ready.",),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class Site:
    """`scripts/run.sh` in a session of its own, with its combined log time-stamped line by line."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.milestones: dict[str, float] = {}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        with self.log.open("ab") as out:
            for raw in self.process.stdout:
                out.write(raw)
                line = raw.decode(errors="replace")
                for name, needles in MILESTONES.items():
                    if name not in self.milestones and any(needle in line for needle in needles):
                        self.milestones[name] = time.perf_counter() - self.started

    def wait_healthy(self, port: int) -> float:
        deadline = self.started + START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"make run exited with {self.process.returncode}:\n{self.tail()}")
            if healthz(port) == 200:
                return time.perf_counter() - self.started
            time.sleep(0.05)
        raise SystemExit(f"no 200 from /healthz within {START_TIMEOUT:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM to honcho (run.sh exec's it), which stops its processes; SIGKILL what is left after a while.

        honcho starts each process in a session of its own, so the leftovers are killed one by one.
        """
        with contextlib.suppress(psutil.NoSuchProcess):
            tree = psutil.Process(self.process.pid).children(recursive=True)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"make run did not stop within {STOP_TIMEOUT:.0f} s; killing it", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _, alive = psutil.wait_procs(tree, timeout=STOP_TIMEOUT)
        for process in alive:
            print(f"killing leftover process {process.pid}", file=sys.stderr)
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=10)
        self.reader.join(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_once(env: dict[str, str], port: int, log: Path) -> tuple[float, dict[str, float]]:
    site = Site(env, log)
    try:
        seconds = site.wait_healthy(port)
    finally:
        site.stop()
    return seconds, site.milestones


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second-starts", type=int, default=1, help="second starts to time (the median is reported)")
    parser.add_argument("--sync-runs", type=int, default=3, help="unchanged syncs to time (the median is reported)")
    parser.add_argument("--redis-url", help="a Redis that answers; default: an embedded one on a free port")
    parser.add_argument("--keep", action="store_true", help="keep the DATA_DIR and its logs")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="mlopslab-startup-"))
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DEBUG")
    }
    env.update(
        DATA_DIR=str(data_dir),
        WEB_PORT=str(port),
        REDIS_URL=args.redis_url or f"redis://127.0.0.1:{free_port()}/0",
        PYTHONUNBUFFERED="1",
    )
    print(f"code: {ROOT}, DATA_DIR {data_dir}, web port {port}, Redis {env['REDIS_URL']}")
    try:
        first, first_steps = start_once(env, port, data_dir / "first.log")
        seconds, steps = [], []
        for number in range(args.second_starts):
            took, milestones = start_once(env, port, data_dir / f"second-{number + 1}.log")
            seconds.append(took)
            steps.append(milestones)
        second = statistics.median(seconds)
        python = str(ROOT / ".venv" / "bin" / "python")
        sync_env = {**env, "DEBUG": "1"}
        syncs = []
        for _ in range(args.sync_runs):
            took, output = timed([python, "manage.py", "sync_content"], sync_env)
            assert "up to date" in output, output
            syncs.append(took)
        setup_env = {**sync_env, "DJANGO_SETTINGS_MODULE": "mlopslab.settings"}
        setup, _ = timed([python, "-c", "import django; django.setup()"], setup_env)
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{'start':<10} {'to 200 s':>9}  where the time went (s after process start)")
    rows = [("first", first, first_steps), *(("second", t, m) for t, m in zip(seconds, steps, strict=True))]
    for name, took, milestones in rows:
        where = ", ".join(f"{key} {value:.2f}" for key, value in sorted(milestones.items(), key=lambda kv: kv[1]))
        print(f"{name:<10} {took:>9.2f}  {where}")
    print(f"manage.py sync_content, nothing changed: {', '.join(f'{s:.2f}' for s in syncs)} s")
    print(f"python -c 'django.setup()' alone: {setup:.2f} s")
    verdict = "met" if second <= TARGET_SECOND_START else "NOT MET"
    print(f"target: second start <= {TARGET_SECOND_START:.1f} s to a 200 from /healthz: {verdict}")
    report("first start", first, "s")
    report("second start", second, "s")
    report("sync_content unchanged", statistics.median(syncs), "s")
    report("django setup", setup, "s")
    report("second start target", TARGET_SECOND_START, "s")


if __name__ == "__main__":
    main()
