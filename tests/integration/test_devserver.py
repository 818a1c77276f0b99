"""make run's web process (scripts/devserver.py) serves, restarts its server after a code change, stops on SIGTERM."""

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.integration.faults import free_port, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _answers(port: int) -> bool:
    """Whether the server answers /healthz at all (503 too: this test gives it no Redis)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def test_the_devserver_reloads_after_a_code_change_and_stops_with_its_server(tmp_path: Path) -> None:
    # A module every process imports at start (sitecustomize), so the reloader watches it.
    watched = tmp_path / "sitecustomize.py"
    watched.write_text("")
    port = free_port()
    (tmp_path / "data").mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "DEBUG": "1",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    env.pop("DATABASE_URL", None)
    log_path = tmp_path / "devserver.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "devserver.py"), f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _answers(port), timeout=60, what="the first answer")
        reloading = f"{watched} changed, reloading."
        edits = iter(range(10**6))

        def edited_and_reloaded() -> bool:
            # Edited again on each look: an edit made before the reloader's first scan of the file is its
            # starting point, not a change, and under load that first scan can come late.
            if reloading in log_path.read_text():
                return True
            watched.write_text(f"# changed {next(edits)}\n")
            return False

        wait_for(edited_and_reloaded, timeout=90, what="the reload", every=1.0)
        wait_for(lambda: _answers(port), timeout=60, what="an answer after the reload")
        servers = psutil.Process(process.pid).children(recursive=True)
        assert any("runserver" in server.cmdline() for server in servers)
        # honcho stops a process by SIGTERM to its process group, as here.
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        _, alive = psutil.wait_procs(servers, timeout=20)
        assert not alive, "a server outlived the devserver"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
    assert log_path.read_text().count("Starting development server at") >= 2
