"""Build a peer tool's virtual environment beside the project's own: `.venv-peers/<name>`.

Peer tools (MLflow) are what the site is compared with in agreement tests and benchmarks. They live in
an environment of their own so that their dependency pins never constrain the site's, and each is
built from a pinned requirements file. Running this again reuses an environment whose pins match and
rebuilds one whose pins changed.

    .venv/bin/python scripts/peer_env.py mlflow

prints the environment's python on its last line. Build it with the project's interpreter (Python 3.11):
the pins are for it.
"""

import argparse
import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = ROOT / ".venv-peers"
PEERS = {"mlflow": ROOT / "requirements-peers-mlflow.txt"}
# A pipeline the site pickles loads in the peer environment only with the same versions of these.
SHARED = ("scikit-learn", "numpy", "scipy", "pandas")
STAMP = ".installed"


class PeerEnvError(RuntimeError):
    """The peer environment cannot be built as pinned; the message says why."""


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
    requirements = PEERS[name]
    check_shared_pins(requirements)
    target = PEERS_DIR / name
    python = target / "bin" / "python"
    wanted = _wanted(requirements)
    PEERS_DIR.mkdir(exist_ok=True)
    # One build at a time: two test sessions starting together must not both write the environment.
    with open(PEERS_DIR / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = target / STAMP
        if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
            return python
        if target.exists():
            shutil.rmtree(target)
        print(f"Building {target.relative_to(ROOT)} from {requirements.name} (a minute or two)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
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
