"""Plotly figures for sandbox pages, returned as HTML fragments (layout and sizing in mlopslab.figures)."""

import plotly.graph_objects as go

from mlopslab.figures import figure_html


def learning_curve_html(epochs: list[dict]) -> str:
    numbers = [row["epoch"] for row in epochs]
    figure = go.Figure(
        [
            go.Scatter(x=numbers, y=[row["train_accuracy"] for row in epochs], name="train", mode="lines+markers"),
            go.Scatter(
                x=numbers, y=[row["validation_accuracy"] for row in epochs], name="validation", mode="lines+markers"
            ),
        ]
    )
    return figure_html(
        figure,
        "Accuracy after each epoch",
        xaxis_title="epoch",
        yaxis_title="accuracy",
        yaxis_range=[min(0.8, *(row["validation_accuracy"] for row in epochs)) - 0.02, 1.0],
    )


def confusion_html(labels: list[str], matrix: list[list[int]]) -> str:
    figure = go.Figure(
        go.Heatmap(
            z=matrix, x=labels, y=labels, colorscale="Blues", text=matrix, texttemplate="%{text}", showscale=False
        )
    )
    return figure_html(
        figure,
        "Confusion matrix (validation)",
        xaxis_title="predicted",
        yaxis_title="actual",
        yaxis_autorange="reversed",
    )


def roc_html(roc: dict) -> str:
    figure = go.Figure(
        [
            go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name="model"),
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash", "color": "#999"}),
        ]
    )
    return figure_html(
        figure,
        "ROC curve (validation)",
        xaxis={"title": "false positive rate", "range": [0, 1]},
        yaxis={"title": "true positive rate", "range": [0, 1.02]},
    )


def importances_html(importances: list) -> str:
    names = [name for name, _ in reversed(importances)]
    values = [value for _, value in reversed(importances)]
    figure = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color="#2952cc"))
    return figure_html(figure, "Feature importance", height=max(280, 22 * len(names) + 80))


def residuals_html(residuals: dict) -> str:
    actual, predicted = residuals["actual"], residuals["predicted"]
    low, high = min(actual + predicted), max(actual + predicted)
    figure = go.Figure(
        [
            go.Scatter(x=actual, y=predicted, mode="markers", name="rows", marker={"opacity": 0.6}),
            go.Scatter(
                x=[low, high], y=[low, high], mode="lines", name="perfect", line={"dash": "dash", "color": "#999"}
            ),
        ]
    )
    return figure_html(figure, "Predicted against actual (validation)", xaxis_title="actual", yaxis_title="predicted")


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
    figure = go.Figure(
        go.Parcoords(line={"color": scores, "colorscale": "Viridis", "showscale": True}, dimensions=dimensions)
    )
    # Parallel coordinates print each axis label above its axis, inside the top margin.
    return figure_html(figure, f"Parameters against {metric}", height=400, margin={"l": 60, "r": 40, "t": 120, "b": 30})


def metric_bars_html(runs: list, metrics: list[str]) -> str:
    figure = go.Figure([go.Bar(name=run.name, x=metrics, y=[run.metrics.get(m) for m in metrics]) for run in runs])
    return figure_html(figure, "Metrics by run", barmode="group")


def histogram_html(values: list, name: str) -> str:
    figure = go.Figure(go.Histogram(x=values, marker_color="#2952cc", nbinsx=30))
    return figure_html(figure, name, height=240, bargap=0.05)


def bars_html(pairs: list[tuple[str, int]], title: str) -> str:
    figure = go.Figure(go.Bar(x=[k for k, _ in pairs], y=[v for _, v in pairs], marker_color="#2952cc"))
    return figure_html(figure, title, height=260)
