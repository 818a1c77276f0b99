"""Time `make run` from process start to the first 200 from /healthz, on a first and a second start.

Runs the real path, scripts/run.sh (bootstrap, `manage.py prepare`, then honcho with the Procfile's
web, worker and beat), on a throw-away DATA_DIR and a free WEB_PORT. The first start migrates an
empty database and loads the whole course; the second start finds both done, as a developer's
every start after the first does. After each start the whole process tree is stopped (SIGTERM to
honcho, then SIGKILL to whatever is left after a bounded wait). Last, `manage.py sync_content` is
timed on the loaded database, where nothing has changed.

`--baseline DIR` runs the same against another checkout (a `git worktree` of an older commit, with
a .venv, e.g. a symlink to this one) in the same run, each step of the two taking turns, and prints
its figures and the ratios beside these. The machine's other load moves every figure, so compare
figures from one run only.

Redis: by default an embedded redis-server on a free port, started by run.sh itself because nothing
answers there, so the benchmark shares no queue with anything else; `--redis-url` uses one that
answers instead (e.g. redis://127.0.0.1:6379/13).

    .venv/bin/python benchmarks/startup.py [--baseline DIR] [--second-starts 3] [--redis-url URL] [--keep]

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
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _setup import ROOT, report

TARGET_SECOND_START = 5.0
START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0
# Lines of the combined log worth a time stamp, to show where a start spends its time.
MILESTONES = {
    "honcho starts": ("MLOps Lab will be at",),
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


def _short_name(cmdline: list[str]) -> str:
    """The process's role (honcho, runserver, worker, beat...); else the first two words of its command."""
    words = [Path(word).name for word in cmdline if not word.startswith("-")]
    for marker in ("honcho", "supervise.sh", "devserver.py", "runserver", "worker", "beat", "redis-server"):
        if marker in words:
            return marker
    return " ".join(words[:2])


@dataclass
class Start:
    seconds: float
    milestones: dict[str, float]
    cpu: dict[str, float]
    """CPU seconds used by the first 200: by each process still running, and "before honcho" for the ones before."""


class Site:
    """`scripts/run.sh` of one checkout in a session of its own, with its combined log time-stamped line by line."""

    def __init__(self, root: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.milestones: dict[str, float] = {}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(root / "scripts" / "run.sh")],
            cwd=root,
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

    def wait_healthy(self, port: int) -> Start:
        deadline = self.started + START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"make run exited with {self.process.returncode}:\n{self.tail()}")
            if healthz(port) == 200:
                seconds = time.perf_counter() - self.started
                return Start(seconds, dict(self.milestones), self.cpu_by_process())
            time.sleep(0.05)
        raise SystemExit(f"no 200 from /healthz within {START_TIMEOUT:.0f} s:\n{self.tail()}")

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds used so far by each running process, and by those run.sh ran and waited for.

        run.sh exec's honcho, so the CPU of what it waited for (bootstrap, prepare, the Redis check)
        is in honcho's process as its children's.
        """
        used: dict[str, float] = {}
        counts: dict[str, int] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            honcho = psutil.Process(self.process.pid)
            times = honcho.cpu_times()
            used["before honcho"] = times.children_user + times.children_system
            used["honcho"] = times.user + times.system
            counts["honcho"] = 1
            for process in honcho.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    name = _short_name(process.cmdline())
                    times = process.cpu_times()
                    used[name] = used.get(name, 0.0) + times.user + times.system
                    counts[name] = counts.get(name, 0) + 1
        return {f"{name} x{counts[name]}" if counts.get(name, 1) > 1 else name: cpu for name, cpu in used.items()}

    def stop(self) -> None:
        """SIGTERM to honcho (run.sh exec's it), which stops its processes; SIGKILL what is left after a while.

        honcho starts each process in a session of its own, so the leftovers are killed one by one.
        """
        tree = []
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


@dataclass
class Checkout:
    """One tree under test, with its own DATA_DIR, port and Redis, and what was measured on it."""

    name: str
    root: Path
    redis_url: str | None
    data_dir: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    starts: list[Start] = field(default_factory=list)
    syncs: list[float] = field(default_factory=list)
    cold_sync: float = 0.0
    setup: float = 0.0

    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"mlopslab-startup-{self.name}-"))
        self.port = free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DEBUG", "VIRTUAL_ENV")
        }
        self.env.update(
            DATA_DIR=str(self.data_dir),
            WEB_PORT=str(self.port),
            REDIS_URL=self.redis_url or f"redis://127.0.0.1:{free_port()}/0",
            PYTHONUNBUFFERED="1",
        )
        self.python = str(self.root / ".venv" / "bin" / "python")

    def start(self) -> None:
        site = Site(self.root, self.env, self.data_dir / f"start-{len(self.starts) + 1}.log")
        try:
            self.starts.append(site.wait_healthy(self.port))
        finally:
            site.stop()

    def sync(self) -> None:
        took, output = self.timed([self.python, "manage.py", "sync_content"], {"DEBUG": "1"})
        assert "up to date" in output, output
        self.syncs.append(took)

    def first_sync(self) -> None:
        """`manage.py sync_content` on a migrated database without content: every fragment is rendered."""
        data_dir = self.data_dir / "first-sync"
        data_dir.mkdir()
        extra = {"DEBUG": "1", "DATA_DIR": str(data_dir)}
        self.timed([self.python, "manage.py", "migrate", "--verbosity", "0"], extra)
        self.cold_sync, output = self.timed([self.python, "manage.py", "sync_content"], extra)
        assert "created" in output, output

    def time_setup(self) -> None:
        env = {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "mlopslab.settings"}
        self.setup, _ = self.timed([self.python, "-c", "import django; django.setup()"], env)

    def timed(self, command: list[str], extra: dict[str, str]) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=self.root, env={**self.env, **extra}, capture_output=True, text=True, timeout=300, check=False
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return seconds, done.stdout.strip()

    @property
    def first(self) -> float:
        return self.starts[0].seconds

    @property
    def second(self) -> float:
        return statistics.median(start.seconds for start in self.starts[1:])

    def describe(self) -> None:
        print(f"\n{self.name}: {self.root} (DATA_DIR {self.data_dir}, web port {self.port}, {self.env['REDIS_URL']})")
        print(f"  {'start':<8} {'to 200 s':>8}  where the time went (s after process start); CPU s by the 200")
        for number, start in enumerate(self.starts):
            where = ", ".join(f"{k} {v:.2f}" for k, v in sorted(start.milestones.items(), key=lambda kv: kv[1]))
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(start.cpu.items(), key=lambda kv: -kv[1]) if v >= 0.01)
            print(f"  {'first' if number == 0 else 'second':<8} {start.seconds:>8.2f}  {where}")
            print(f"  {'':<8} {'':>8}  CPU {sum(start.cpu.values()):.2f}: {cpu}")
        print(f"  manage.py sync_content, nothing changed: {', '.join(f'{s:.2f}' for s in self.syncs)} s")
        print(f"  manage.py sync_content, first (into an empty database): {self.cold_sync:.2f} s")
        print(f"  python -c 'django.setup()' alone: {self.setup:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to measure in the same run, taking turns")
    parser.add_argument("--second-starts", type=int, default=3, help="second starts to time (the median is reported)")
    parser.add_argument("--sync-runs", type=int, default=3, help="unchanged syncs to time (the median is reported)")
    parser.add_argument("--redis-url", help="a Redis that answers; default: an embedded one on a free port each")
    parser.add_argument("--keep", action="store_true", help="keep the DATA_DIRs and their logs")
    args = parser.parse_args()

    checkouts = [Checkout("this", ROOT, args.redis_url)]
    if args.baseline:
        checkouts.append(Checkout("baseline", args.baseline.resolve(), args.redis_url))
    try:
        for _ in range(1 + args.second_starts):
            for checkout in checkouts:
                checkout.start()
        for _ in range(args.sync_runs):
            for checkout in checkouts:
                checkout.sync()
        for checkout in checkouts:
            checkout.first_sync()
        for checkout in checkouts:
            checkout.time_setup()
    finally:
        for checkout in checkouts:
            if args.keep:
                print(f"kept {checkout.data_dir}")
            else:
                shutil.rmtree(checkout.data_dir, ignore_errors=True)

    for checkout in checkouts:
        checkout.describe()
    this = checkouts[0]
    verdict = "met" if this.second <= TARGET_SECOND_START else "NOT MET"
    print(f"\ntarget: second start <= {TARGET_SECOND_START:.1f} s to a 200 from /healthz: {verdict}\n")
    figures = (
        ("first start", lambda c: c.first),
        ("second start", lambda c: c.second),
        ("sync_content unchanged", lambda c: statistics.median(c.syncs)),
        ("sync_content first", lambda c: c.cold_sync),
        ("django setup", lambda c: c.setup),
    )
    for name, figure in figures:
        report(name, figure(this), "s", digits=2)
        if args.baseline:
            baseline = checkouts[1]
            report(f"{name} baseline", figure(baseline), "s", digits=2)
            report(f"{name} vs baseline", figure(this) / figure(baseline), "x", digits=2)
    report("second start target", TARGET_SECOND_START, "s", digits=2)


if __name__ == "__main__":
    main()
