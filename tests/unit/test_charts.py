"""Charts send what they can show, bounded whatever the rows behind them, as plain JSON data."""

import itertools
import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mlopslab.figures import figure_html
from sandbox import charts
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Experiment, Run

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r'<script type="application/json" id="figure-[^"]+">(.*?)</script>', re.S)


def _figure(html: str) -> dict:
    (block,) = FIGURE.findall(html)
    return json.loads(block)


def _roc(points: int) -> dict:
    """A ROC curve of `points` points rising from (0, 0) to (1, 1), as scikit-learn's roc_curve gives."""
    rng = random.Random(0)
    fpr = sorted(rng.random() for _ in range(points - 2))
    tpr = sorted(min(1.0, math.sqrt(x) + rng.random() / 50) for x in fpr)
    return {"fpr": [0.0, *fpr, 1.0], "tpr": [0.0, *tpr, 1.0]}


def test_a_roc_curve_of_thousands_of_points_sends_a_few_hundred_along_its_length() -> None:
    roc = _roc(20_000)
    trace = _figure(charts.roc_html(roc))["data"][0]
    assert len(trace["x"]) <= charts.MAX_CURVE_POINTS
    assert (trace["x"][0], trace["y"][0]) == (0.0, 0.0)
    assert (trace["x"][-1], trace["y"][-1]) == (1.0, 1.0)
    assert trace["x"] == sorted(trace["x"])
    # No stretch of the drawn line skips more than a few marks' worth of the curve.
    points = list(zip(trace["x"], trace["y"], strict=True))
    steps = [abs(x2 - x1) + abs(y2 - y1) for (x1, y1), (x2, y2) in itertools.pairwise(points)]
    assert max(steps) < 3 * 2 / charts.MAX_CURVE_POINTS


def test_a_short_roc_curve_is_sent_whole() -> None:
    roc = {"fpr": [0.0, 0.1, 0.1, 1.0], "tpr": [0.0, 0.5, 0.9, 1.0]}
    trace = _figure(charts.roc_html(roc))["data"][0]
    assert (trace["x"], trace["y"]) == (roc["fpr"], roc["tpr"])


def test_predicted_against_actual_draws_an_even_sample_and_says_so() -> None:
    actual = [float(n) for n in range(40_000)]
    predicted = [value + 0.5 for value in actual]
    figure = _figure(charts.residuals_html({"actual": actual, "predicted": predicted}))
    rows, perfect = figure["data"]
    assert len(rows["x"]) == charts.MAX_POINTS
    assert (rows["x"][0], rows["x"][-1]) == (0.0, 39_999.0)
    assert perfect["x"] == [0.0, 39_999.5]  # the diagonal spans every row, shown or not
    assert figure["layout"]["title"]["text"] == "Predicted against actual (validation, 2,000 of 40,000 rows)"
    small = _figure(charts.residuals_html({"actual": [1.0, 2.0], "predicted": [1.5, 2.5]}))
    assert small["layout"]["title"]["text"] == "Predicted against actual (validation)"


def test_a_figure_carries_no_nan_or_infinity_and_no_markup() -> None:
    html = figure_html([{"type": "bar", "x": ["</script><b>", "b"], "y": [float("nan"), float("inf")]}], "t & <u>")
    block = FIGURE.findall(html)[0]
    assert "</script>" not in block
    assert "<" not in block
    figure = json.loads(block)
    assert figure["data"][0]["y"] == [None, None]
    assert figure["data"][0]["x"][0] == "</script><b>"
    assert figure["layout"]["title"]["text"] == "t & <u>"
    numpy_values = figure_html([{"type": "bar", "y": [np.int64(3), np.float32(0.5), np.float64("nan")]}], "numpy")
    assert json.loads(FIGURE.findall(numpy_values)[0])["data"][0]["y"] == [3, 0.5, None]
    with pytest.raises(TypeError, match="cannot carry"):
        figure_html([{"type": "bar", "x": {1, 2}}], "a set")


@pytest.mark.django_db
def test_a_run_trained_on_many_rows_has_a_small_page(
    learner: User, learner_client: Client, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    rng = random.Random(1)
    actual = [rng.random() for _ in range(40_000)]
    run = Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="big",
        algorithm="linear_regression", params={}, seed=1, status=Run.Status.SUCCEEDED,
        preparation=training.Preparation().as_dict(), metrics={"val_r2": 0.9},
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
        charts={"importances": [["x", 0.5]], "residuals": {"actual": actual, "predicted": actual}},
    )  # fmt: skip
    response = learner_client.get(reverse("sandbox:run", args=[run.pk]))
    assert response.status_code == 200
    assert len(response.content) < 150 * 1024  # 40,000 rows of 18-digit floats would be about 1.5 MB
    figures = [json.loads(block) for block in FIGURE.findall(response.content.decode())]
    assert max(len(trace.get("x", [])) for figure in figures for trace in figure["data"]) == charts.MAX_POINTS


def test_drawing_a_chart_imports_no_plotly_numpy_or_pandas() -> None:
    code = (
        "import os, sys\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'mlopslab.settings'\n"
        "import django\n"
        "django.setup()\n"
        "from lessons import charts as lessons_charts\n"
        "from sandbox import charts\n"
        "charts.bars_html([('a', 1)], 'bars')\n"
        "charts.histogram_html([(0.0, 1.0, 3)], 'bins')\n"
        "charts.roc_html({'fpr': [0.0, 1.0], 'tpr': [0.0, 1.0]})\n"
        "lessons_charts.scorecard_html([lessons_charts.StageScore('s', 1, 1, 0)])\n"
        "print(sorted(m for m in ('plotly', 'numpy', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
