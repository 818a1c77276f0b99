"""The benchmark scripts import and read their arguments without starting anything."""

import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


FLAGS = {
    "lifecycle.py": "--runs",
    "serving.py": "--duration",
    "drift.py": "--runs",
    "monitoring_dashboard.py": "--renders",
    "cohort_page.py": "--renders",
    "community.py": "--renders",
    "lesson_preview.py": "--runs",
    "scale_out.py": "--runs",
}


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_it_prints_its_usage(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert FLAGS[script] in result.stdout


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_it_refuses_a_bad_count(script: str) -> None:
    flag = FLAGS[script]
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), flag, "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "must be at least 1" in result.stderr


def test_the_peer_side_compiles_without_mlflow(tmp_path: Path) -> None:
    # Run by the MLflow peer environment's python; here it only has to be valid Python.
    for name in ("_mlflow_lifecycle.py", "_mlflow_save.py"):
        py_compile.compile(str(BENCHMARKS / name), cfile=str(tmp_path / f"{name}c"), doraise=True)
