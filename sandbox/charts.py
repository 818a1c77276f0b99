"""Plotly figures for sandbox pages, returned as HTML fragments (layout and sizing in mlopslab.figures).

What a chart sends is bounded by what it can show, never by the rows behind it: a histogram sends
its bins, a bar chart at most its capped bars, the predicted-against-actual scatter at most
MAX_POINTS rows (an even sample, said in its title) and a ROC curve at most MAX_CURVE_POINTS points
spread evenly along it.
"""

from mlopslab.figures import axis, figure_html

BLUE = "#2952cc"
GREY = "#999"
# plotly's "Blues" and "Viridis" scales, as its Python package spells them (plotly.js's own "Blues" differs).
BLUES = [
    [0.0, "rgb(247,251,255)"], [0.125, "rgb(222,235,247)"], [0.25, "rgb(198,219,239)"],
    [0.375, "rgb(158,202,225)"], [0.5, "rgb(107,174,214)"], [0.625, "rgb(66,146,198)"],
    [0.75, "rgb(33,113,181)"], [0.875, "rgb(8,81,156)"], [1.0, "rgb(8,48,107)"],
]  # fmt: skip
VIRIDIS = [
    [0.0, "#440154"], [1 / 9, "#482878"], [2 / 9, "#3e4989"], [3 / 9, "#31688e"], [4 / 9, "#26828e"],
    [5 / 9, "#1f9e89"], [6 / 9, "#35b779"], [7 / 9, "#6ece58"], [8 / 9, "#b5de2b"], [1.0, "#fde725"],
]  # fmt: skip
MAX_POINTS = 2000
"""The predicted-against-actual scatter draws at most this many validation rows."""
MAX_CURVE_POINTS = 400
"""A ROC curve sends at most this many of its points."""


def learning_curve_html(epochs: list[dict]) -> str:
    numbers = [row["epoch"] for row in epochs]
    data = [
        {"type": "scatter", "x": numbers, "y": [row["train_accuracy"] for row in epochs], "name": "train",
         "mode": "lines+markers"},
        {"type": "scatter", "x": numbers, "y": [row["validation_accuracy"] for row in epochs], "name": "validation",
         "mode": "lines+markers"},
    ]  # fmt: skip
    low = min(0.8, *(row["validation_accuracy"] for row in epochs)) - 0.02
    return figure_html(data, "Accuracy after each epoch", xaxis=axis("epoch"), yaxis=axis("accuracy", range=[low, 1.0]))


def confusion_html(labels: list[str], matrix: list[list[int]]) -> str:
    data = [
        {"type": "heatmap", "z": matrix, "x": labels, "y": labels, "colorscale": BLUES, "text": matrix,
         "texttemplate": "%{text}", "showscale": False},
    ]  # fmt: skip
    return figure_html(
        data,
        "Confusion matrix (validation)",
        xaxis=axis("predicted"),
        yaxis=axis("actual", autorange="reversed"),
    )


def _curve_points(x: list[float], y: list[float], limit: int) -> list[int]:
    """Indices of at most `limit` points of a curve rising in x and y, evenly spaced along its length.

    Both coordinates only grow along a ROC curve, so the distance travelled to a point (in city
    blocks) is x + y less the start's: the points kept are the first to pass each of `limit` evenly
    spaced marks, with the first and the last always kept, so the drawn line keeps the curve's shape.
    """
    if len(x) <= limit:
        return list(range(len(x)))
    start, end = x[0] + y[0], x[-1] + y[-1]
    step = (end - start) / (limit - 1)
    if step <= 0:
        return [0, len(x) - 1]
    kept, mark = [0], 1
    for index in range(1, len(x) - 1):
        if mark > limit - 2:
            break
        travelled = x[index] + y[index] - start
        if travelled >= mark * step:
            kept.append(index)
            mark = int(travelled / step) + 1
    kept.append(len(x) - 1)
    return kept


def roc_html(roc: dict) -> str:
    kept = _curve_points(roc["fpr"], roc["tpr"], MAX_CURVE_POINTS)
    data = [
        {"type": "scatter", "x": [roc["fpr"][i] for i in kept], "y": [roc["tpr"][i] for i in kept], "mode": "lines",
         "name": "model"},
        {"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "chance",
         "line": {"dash": "dash", "color": GREY}},
    ]  # fmt: skip
    return figure_html(
        data,
        "ROC curve (validation)",
        xaxis=axis("false positive rate", range=[0, 1]),
        yaxis=axis("true positive rate", range=[0, 1.02]),
    )


def importances_html(importances: list) -> str:
    names = [name for name, _ in reversed(importances)]
    values = [value for _, value in reversed(importances)]
    data = [{"type": "bar", "x": values, "y": names, "orientation": "h", "marker": {"color": BLUE}}]
    return figure_html(data, "Feature importance", height=max(280, 22 * len(names) + 80))


def residuals_html(residuals: dict) -> str:
    actual, predicted = residuals["actual"], residuals["predicted"]
    low, high = min(min(actual), min(predicted)), max(max(actual), max(predicted))
    rows = len(actual)
    title = "Predicted against actual (validation)"
    if rows > MAX_POINTS:
        # Validation rows are in the split's shuffled order, so every k-th row is an even sample.
        kept = [round(n * (rows - 1) / (MAX_POINTS - 1)) for n in range(MAX_POINTS)]
        actual, predicted = [actual[i] for i in kept], [predicted[i] for i in kept]
        title = f"Predicted against actual (validation, {MAX_POINTS:,} of {rows:,} rows)"
    data = [
        {"type": "scatter", "x": actual, "y": predicted, "mode": "markers", "name": "rows", "marker": {"opacity": 0.6}},
        {"type": "scatter", "x": [low, high], "y": [low, high], "mode": "lines", "name": "perfect",
         "line": {"dash": "dash", "color": GREY}},
    ]  # fmt: skip
    return figure_html(data, title, xaxis=axis("actual"), yaxis=axis("predicted"))


def _parallel_axis(label: str, values: list) -> dict:
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return {"label": label, "values": values}
    # Categories get evenly spaced ticks; a missing value is an "n/a" tick, never plotly's "None".
    texts = ["n/a" if v is None else str(v) for v in values]
    categories = sorted(set(texts))
    return {
        "label": label,
        "values": [categories.index(t) for t in texts],
        "tickvals": list(range(len(categories))),
        "ticktext": categories,
    }


def parallel_html(runs: list, param_names: list[str], metric: str) -> str:
    """One line per run across an algorithm axis (when they differ), the params every run has, and `metric`.

    A param only some of the runs have (another algorithm's) would be an axis of gaps, so it is left out.
    """
    dimensions = []
    if len({run.algorithm for run in runs}) > 1:
        dimensions.append(_parallel_axis("algorithm", [run.algorithm for run in runs]))
    for name in param_names:
        if all(name in run.params for run in runs):
            dimensions.append(_parallel_axis(name, [run.params[name] for run in runs]))
    scores = [run.metrics.get(metric, 0) for run in runs]
    dimensions.append({"label": metric, "values": scores})
    data = [
        {"type": "parcoords", "line": {"color": scores, "colorscale": VIRIDIS, "showscale": True},
         "dimensions": dimensions},
    ]  # fmt: skip
    # Parallel coordinates print each axis label above its axis, inside the top margin.
    return figure_html(data, f"Parameters against {metric}", height=400, margin={"l": 60, "r": 40, "t": 120, "b": 30})


def metric_bars_html(runs: list, metrics: list[str]) -> str:
    data = [{"type": "bar", "name": run.name, "x": metrics, "y": [run.metrics.get(m) for m in metrics]} for run in runs]
    return figure_html(data, "Metrics by run", barmode="group")


def _number(value: float) -> str:
    return f"{value:.4g}"


def histogram_html(bins: list, name: str) -> str:
    """A numeric column's distribution from its bins, (low, high, count) each, computed on the server."""
    trace = {
        "type": "bar",
        "x": [(low + high) / 2 for low, high, _ in bins],
        "y": [count for _, _, count in bins],
        "customdata": [[_number(low), _number(high)] for low, high, _ in bins],
        "hovertemplate": "%{customdata[0]} to %{customdata[1]}: %{y} rows<extra></extra>",
        "marker": {"color": BLUE, "line": {"color": "white", "width": 1}},
        "name": name,
    }
    if any(high > low for low, high, _ in bins):  # one value only: a bar of plotly's own width
        trace["width"] = [high - low for low, high, _ in bins]
    return figure_html([trace], name, height=240, bargap=0)


def bars_html(pairs: list[tuple[str, int]], title: str) -> str:
    data = [{"type": "bar", "x": [k for k, _ in pairs], "y": [v for _, v in pairs], "marker": {"color": BLUE}}]
    return figure_html(data, title, height=260)
