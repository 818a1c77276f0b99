"""The version of MLOps Lab's own code, recorded with every training run."""

import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@cache
def code_version() -> str:
    """APP_VERSION when set (a deployment can pass its image tag), else the git commit checked out."""
    if os.environ.get("APP_VERSION"):
        return os.environ["APP_VERSION"]
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            name = ref.removeprefix("ref: ")
            loose = ROOT / ".git" / name
            if loose.exists():
                return loose.read_text().strip()[:12]
            for line in (ROOT / ".git" / "packed-refs").read_text().splitlines():
                if line.endswith(" " + name):
                    return line.split()[0][:12]
            return "unknown"
        return ref[:12]
    except OSError:
        return "unknown"
