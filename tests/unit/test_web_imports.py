"""The web process serves pages without importing the libraries only training and charts need."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "pandas", "numpy", "scipy", "plotly", "joblib")


def test_starting_the_site_imports_no_ml_or_chart_library() -> None:
    code = (
        "import os, sys\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'mlopslab.settings'\n"
        "import django\n"
        "django.setup()\n"
        "from django.urls import get_resolver\n"
        "def walk(patterns):\n"
        "    for p in patterns:\n"
        "        walk(p.url_patterns) if hasattr(p, 'url_patterns') else p.callback\n"
        "walk(get_resolver().url_patterns)\n"
        "import mlopslab.asgi, mlopslab.wsgi\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"imported at start: {result.stdout.strip()}"


def test_a_lazy_module_imports_on_first_use() -> None:
    code = (
        "import sys\n"
        "from mlopslab.lazy import lazy_module\n"
        "colours = lazy_module('colorsys')\n"
        "print('colorsys' in sys.modules, colours.rgb_to_hsv(1, 0, 0), 'colorsys' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False (0.0, 1.0, 1) True", result.stdout + result.stderr
