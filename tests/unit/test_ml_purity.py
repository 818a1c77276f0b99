import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_ml_loads_neither_django_nor_celery() -> None:
    modules = sorted(p.stem for p in (ROOT / "sandbox" / "ml").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('sandbox.ml.' + name)\n"
        "print(sorted(m for m in ('django', 'celery') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert modules, "sandbox/ml has no modules to check"
    assert result.stdout.strip() == "[]"
