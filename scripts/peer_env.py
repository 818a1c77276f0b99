"""Build a peer tool's virtual environment in a per-user cache outside the work tree.

Peer tools (MLflow, Evidently) are what the site is compared with in agreement tests and benchmarks. They
live in environments of their own so that their dependency pins never constrain the site's, and each is
built from a pinned requirements file. Running this again reuses an environment whose pins match and
rebuilds one whose pins changed.

The environments live in `$MLOPSLAB_PEERS_DIR/<name>`, by default `${XDG_CACHE_HOME:-~/.cache}/mlopslab/peers/
<name>`: outside the clone, so that a fresh clone on the same machine (as CI makes for every run) reuses one
already built instead of spending minutes of its budget on pip. Each is stamped with the digest of its pins
and the Python version, and rebuilt when they change.

    .venv/bin/python scripts/peer_env.py mlflow
    .venv/bin/python scripts/peer_env.py evidently

prints the environment's python on its last line. Build it with the project's interpreter (Python 3.11):
the pins are for it.
"""

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A pipeline the site pickles loads in a peer environment only with the same versions of these.
SHARED = ("scikit-learn", "numpy", "scipy", "pandas")
STAMP = ".installed"


@dataclass(frozen=True)
class Peer:
    requirements: Path
    # MLflow's peer loads the site's pickled pipelines, so its SHARED pins must equal the site's. Evidently's
    # only reads CSV files the site writes, and needs pandas < 3 (0.7.23 fails to import with pandas 3).
    loads_site_pickles: bool


PEERS = {
    "mlflow": Peer(ROOT / "requirements-peers-mlflow.txt", loads_site_pickles=True),
    "evidently": Peer(ROOT / "requirements-peers-evidently.txt", loads_site_pickles=False),
}


class PeerEnvError(RuntimeError):
    """The peer environment cannot be built as pinned; the message says why."""


def peers_dir() -> Path:
    """Where peer environments live: $MLOPSLAB_PEERS_DIR, else the user's cache (XDG_CACHE_HOME or ~/.cache)."""
    chosen = os.environ.get("MLOPSLAB_PEERS_DIR")
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "mlopslab" / "peers"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def check_shared_pins(requirements: Path) -> None:
    """Refuse a peer requirements file whose scikit-learn, numpy, scipy or pandas differs from the site's."""
    site, peer = _pins(ROOT / "requirements.txt"), _pins(requirements)
    differing = [
        f"{name} {peer.get(name)} (the site pins {site.get(name)})"
        for name in SHARED
        if peer.get(name) != site.get(name)
    ]
    if differing:
        raise PeerEnvError(f"{requirements.name} must pin what requirements.txt pins: {', '.join(differing)}.")


def _wanted(requirements: Path) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()


def peer_python(name: str) -> Path:
    """The python of the peer environment `name`, built first when missing or pinned differently."""
    if name not in PEERS:
        raise PeerEnvError(f"No peer environment named {name!r}; known: {', '.join(sorted(PEERS))}.")
    peer = PEERS[name]
    if peer.loads_site_pickles:
        check_shared_pins(peer.requirements)
    home = peers_dir()
    target = home / name
    python = target / "bin" / "python"
    wanted = _wanted(peer.requirements)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PeerEnvError(f"Cannot create {home} for the peer environments ({exc}); set MLOPSLAB_PEERS_DIR.") from exc
    # One build at a time: two test sessions (or two clones) starting together must not both write it.
    with open(home / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = target / STAMP
        if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
            return python
        if target.exists():
            shutil.rmtree(target)
        print(f"Building {target} from {peer.requirements.name} (a minute or two)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(peer.requirements),
            ],
            check=True,
        )
        stamp.write_text(wanted + "\n")
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(PEERS))
    args = parser.parse_args()
    try:
        print(peer_python(args.name))
    except (PeerEnvError, subprocess.CalledProcessError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
