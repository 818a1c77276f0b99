"""Plotly figures for sandbox pages, returned as HTML fragments.

plotly.js itself is loaded once by the page (static/vendor/plotly.min.js), so a
fragment swapped in by htmx carries only its figure.
"""

import plotly.graph_objects as go


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
    figure.update_layout(
        title="Accuracy after each epoch",
        xaxis_title="epoch",
        yaxis_title="accuracy",
        yaxis_range=[min(0.8, *(row["validation_accuracy"] for row in epochs)) - 0.02, 1.0],
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        height=320,
        template="plotly_white",
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
