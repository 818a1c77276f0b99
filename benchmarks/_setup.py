"""Shared set-up for benchmark scripts: a throw-away data folder and database, Django ready, and the RESULT line.

Every figure a benchmark measures is printed once as `RESULT <name>: <value> <unit>`, so that a
script or a person comparing two runs can grep for the figures whatever else the output says.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_ready() -> Path:
    """Point DATA_DIR at a fresh folder (so a SQLite benchmark never touches var/), migrate, and return it."""
    sys.path.insert(0, str(ROOT))
    data_dir = Path(os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="mlopslab-bench-")))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopslab.settings")
    os.environ["DEBUG"] = "1"  # development static storage; SQL is only logged under runserver
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    return data_dir


def report(name: str, value: float, unit: str, *, digits: int = 1) -> None:
    """Print one figure as a RESULT line; the name must not contain a colon, which ends it."""
    assert ":" not in name, name
    print(f"RESULT {name}: {value:.{digits}f} {unit}")
