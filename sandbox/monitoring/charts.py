"""The monitoring dashboard's charts: traffic, latency, predictions, and accuracy with F1, one card each.

Every chart has one line per version (under a canary or a shadow, the stable's and the candidate's apart), told
apart by colour and by marker shape, and the same time axis, on which each drift report's verdict sits at the
end of the window it read: a red cross where it found drift, a green ring where it did not, and a legend entry
for each, so that colour is never the only sign. Each chart comes with a sentence of its latest figures, the
text a screen reader gets in place of the drawing.

What a chart sends is bounded by the buckets (at most sandbox.monitoring.selectors.MAX_BUCKETS a line), never by
the requests behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString

from mlopslab.figures import axis, figure_html
from sandbox.monitoring.selectors import Dashboard, VersionSeries, chart_time

VERSION_COLOURS = ("#2952cc", "#d9480f", "#7b2cbf", "#2b8a3e", "#495057", "#c2255c")
VERSION_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star")
VERSION_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
CLASS_COLOURS = ("#2952cc", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad", "#f59f00", "#868e96")
DRIFTED = "#c92a2a"
NOT_DRIFTED = "#2b8a3e"
MARKER_Y = 0.5
"""Drift verdicts sit in a strip along the top of each chart, the middle of an axis of their own (0 to 1)."""
PLOT_TOP = 0.86
"""The data's part of the chart's height, below the drift strip."""
PLOT_HEIGHT = 320
LEGEND_ROW = 22
"""Pixels a row of legend entries takes below the chart."""


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    html: SafeString
    caption: str


def _style(index: int) -> tuple[str, str, str]:
    return (
        VERSION_COLOURS[index % len(VERSION_COLOURS)],
        VERSION_SYMBOLS[index % len(VERSION_SYMBOLS)],
        VERSION_DASHES[index % len(VERSION_DASHES)],
    )


def _line(board: Dashboard, name: str, values: list, *, colour: str, symbol: str, dash: str = "solid") -> dict:
    return {
        "type": "scatter", "mode": "lines+markers", "name": name, "x": board.centres, "y": values,
        "line": {"color": colour, "dash": dash, "width": 2}, "marker": {"symbol": symbol, "size": 6, "color": colour},
        "connectgaps": False, "hovertemplate": f"{name}<br>%{{x}} UTC: %{{y}}<extra></extra>",
    }  # fmt: skip


def _drift_traces(board: Dashboard) -> tuple[list[dict], list[dict]]:
    """The drift verdicts as two marker traces (drifted, not) on the overlaid axis, and a vertical rule at each
    report that found drift."""
    traces, shapes = [], []
    for drifted, name, colour, symbol in (
        (True, "drift report: drift detected", DRIFTED, "x"),
        (False, "drift report: no drift", NOT_DRIFTED, "circle-open"),
    ):
        markers = [marker for marker in board.markers if marker.drifted is drifted]
        if not markers:
            continue
        traces.append({
            "type": "scatter", "mode": "markers", "name": name, "yaxis": "y2",
            "x": [chart_time(marker.at) for marker in markers], "y": [MARKER_Y] * len(markers),
            "text": [marker.text for marker in markers], "hovertemplate": "%{text}<br>%{x} UTC<extra></extra>",
            "marker": {"symbol": symbol, "size": 12, "color": colour, "line": {"width": 2, "color": colour}},
        })  # fmt: skip
        if drifted:
            shapes += [
                {"type": "line", "xref": "x", "yref": "paper", "x0": chart_time(m.at), "x1": chart_time(m.at), "y0": 0,
                 "y1": 1, "line": {"color": DRIFTED, "width": 1, "dash": "dot"}}
                for m in markers
            ]  # fmt: skip
    return traces, shapes


def _figure(board: Dashboard, traces: list[dict], title: str, y_title: str, **yaxis: object) -> SafeString:
    """The chart of `traces` over the dashboard's time axis, with the drift verdicts in a strip along its top
    (their own axis, so that they never sit on the data) and the legend below: the height grows with the
    legend, so that the plot itself keeps its height however many lines it has."""
    drift, shapes = _drift_traces(board)
    data = traces + drift
    # plotly wraps a horizontal legend by width, and entries this long take a row each on a card of any width.
    legend_height = LEGEND_ROW * len(data)
    plot_domain = [0, PLOT_TOP] if drift else [0, 1]
    return figure_html(
        data,
        title,
        height=PLOT_HEIGHT + legend_height,
        # Time runs flat along the axis, a few ticks (UTC, as the title of each card's caption says).
        xaxis={"type": "date", "range": board.x_range, "nticks": 5, "tickangle": 0, "automargin": True},
        yaxis=axis(y_title, rangemode="tozero", domain=plot_domain, automargin=True, **yaxis),
        yaxis2={"domain": [PLOT_TOP + 0.02, 1], "range": [0, 1], "visible": False, "fixedrange": True},
        shapes=shapes,
        hovermode="closest",
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yref": "container", "yanchor": "bottom"},
        margin={"b": legend_height + 40},
    )


def _latest(series: VersionSeries, values: list, board: Dashboard) -> tuple[str, float] | None:
    found = series.latest(values)
    if found is None:
        return None
    index, value = found
    return board.starts[index].strftime("%H:%M:%S"), value


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def traffic_chart(board: Dashboard) -> Chart:
    traces, latest = [], []
    for index, series in enumerate(board.versions):
        colour, symbol, dash = _style(index)
        traces.append(_line(board, series.label, series.per_minute, colour=colour, symbol=symbol, dash=dash))
        found = _latest(series, series.per_minute, board)
        if found:
            latest.append(f"{series.label} {_number(found[1])} a minute (bucket of {found[0]} UTC)")
    title = "Requests a minute"
    caption = (
        f"Requests a minute per version, in buckets of {board.bucket_text} (times in UTC). Latest: {'; '.join(latest)}."
    )
    return Chart("traffic", title, _figure(board, traces, title, "requests a minute"), caption)


def latency_chart(board: Dashboard) -> Chart:
    traces, latest = [], []
    for index, series in enumerate(board.versions):
        colour, symbol, _ = _style(index)
        traces.append(_line(board, f"{series.label} p50", series.p50, colour=colour, symbol=symbol))
        traces.append(_line(board, f"{series.label} p95", series.p95, colour=colour, symbol=symbol, dash="dash"))
        p50, p95 = _latest(series, series.p50, board), _latest(series, series.p95, board)
        if p50 and p95:
            latest.append(f"{series.label} p50 {_number(p50[1])} ms, p95 {_number(p95[1])} ms")
    title = "Latency (ms)"
    caption = (
        "Latency of each version's answers, median (p50, solid) and 95th percentile (p95, dashed), in "
        f"milliseconds. Latest: {'; '.join(latest)}."
    )
    return Chart("latency", title, _figure(board, traces, title, "milliseconds"), caption)


def predictions_chart(board: Dashboard) -> Chart:
    traces, latest = [], []
    if board.regression:
        for index, series in enumerate(board.versions):
            colour, symbol, dash = _style(index)
            traces.append(_line(board, f"{series.label} mean", series.mean, colour=colour, symbol=symbol, dash=dash))
            found = _latest(series, series.mean, board)
            if found:
                latest.append(f"{series.label} {_number(found[1])}")
        title = "Mean prediction"
        caption = f"The mean of each version's predictions per bucket. Latest: {'; '.join(latest) or 'none'}."
        return Chart("predictions", title, _figure(board, traces, title, "mean prediction"), caption)
    for index, series in enumerate(board.versions):
        _, symbol, dash = _style(index)
        parts = []
        for number, (name, shares) in enumerate(series.shares.items()):
            colour = CLASS_COLOURS[number % len(CLASS_COLOURS)]
            traces.append(_line(board, f"{series.label}: {name}", shares, colour=colour, symbol=symbol, dash=dash))
            found = _latest(series, shares, board)
            if found:
                parts.append(f"{name} {found[1]:.0%}")
        if parts:
            latest.append(f"{series.label} {', '.join(parts)}")
    title = "Predicted classes"
    caption = (
        "The share of each predicted class among each version's predicted rows, one colour a class and one line "
        f"style and marker a version. Latest: {'; '.join(latest) or 'none'}."
    )
    return Chart("predictions", title, _figure(board, traces, title, "share of rows", range=[0, 1.05]), caption)


def quality_chart(board: Dashboard) -> Chart | None:
    """Accuracy and macro F1 (or, for a regression, the mean absolute error) over the rows whose label has
    arrived, by when they were predicted; None while no label has arrived."""
    if not board.labelled_rows:
        return None
    traces, latest = [], []
    for index, series in enumerate(board.versions):
        colour, symbol, _ = _style(index)
        if board.regression:
            traces.append(_line(board, f"{series.label} MAE", series.error_mae, colour=colour, symbol=symbol))
            found = _latest(series, series.error_mae, board)
            if found:
                latest.append(f"{series.label} MAE {_number(found[1])} (bucket of {found[0]} UTC)")
            continue
        traces.append(_line(board, f"{series.label} accuracy", series.accuracy, colour=colour, symbol=symbol))
        traces.append(_line(board, f"{series.label} F1", series.f1, colour=colour, symbol=symbol, dash="dash"))
        accuracy, f1 = _latest(series, series.accuracy, board), _latest(series, series.f1, board)
        if accuracy and f1:
            latest.append(f"{series.label} accuracy {accuracy[1]:.3f}, F1 {f1[1]:.3f} (bucket of {accuracy[0]} UTC)")
    rows = f"{board.labelled_rows:,} labelled row{'s' if board.labelled_rows != 1 else ''}"
    if board.regression:
        title = "Mean absolute error"
        caption = f"Mean absolute error over the {rows} whose true value has arrived. Latest: {'; '.join(latest)}."
        return Chart("quality", title, _figure(board, traces, title, "mean absolute error"), caption)
    title = "Accuracy and macro F1"
    caption = (
        f"Accuracy (solid) and macro F1 (dashed) over the {rows} whose true label has arrived, by when they were "
        f"predicted. Latest: {'; '.join(latest)}."
    )
    return Chart("quality", title, _figure(board, traces, title, "score", range=[0, 1.05]), caption)


def dashboard_charts(board: Dashboard) -> list[Chart]:
    """The dashboard's cards, in order; none for a deployment that has answered nothing yet."""
    if board.empty:
        return []
    charts = [traffic_chart(board), latency_chart(board), predictions_chart(board)]
    quality = quality_chart(board)
    if quality is not None:
        charts.append(quality)
    return charts
