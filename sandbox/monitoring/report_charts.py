"""A drift report's per-column overlay: the reference and current distributions on one axis, from the shares the
detector stored (so the page never reads the rows)."""

import itertools

from mlopslab.figures import axis, figure_html

REFERENCE = "#2952cc"
CURRENT = "#d4762c"
TEST_NAMES = {
    "ks": "Kolmogorov–Smirnov",
    "chisquare": "Chi-square",
    "z": "Z-test for proportions",
    "wasserstein": "Wasserstein (normed)",
    "jensenshannon": "Jensen–Shannon",
    "psi": "PSI",
}
P_VALUE_TESTS = ("ks", "chisquare", "z")


def _labels(column: dict) -> list[str]:
    bins = column.get("bins") or []
    if column.get("kind") == "num" and len(bins) == len(column.get("reference_share") or []) + 1:
        return [f"{low:.4g} to {high:.4g}" for low, high in itertools.pairwise(bins)]
    return [str(value) for value in bins]


def overlay_html(column: dict) -> str:
    labels = _labels(column)
    data = [
        {"type": "bar", "x": labels, "y": column.get("reference_share") or [], "name": "reference",
         "marker": {"color": REFERENCE}, "opacity": 0.75},
        {"type": "bar", "x": labels, "y": column.get("current_share") or [], "name": "current",
         "marker": {"color": CURRENT, "pattern": {"shape": "/"}}, "opacity": 0.75},
    ]  # fmt: skip
    return figure_html(
        data, f"{column['column']}: reference and current", height=260, barmode="overlay", bargap=0.05,
        xaxis=axis(column["column"], automargin=True), yaxis=axis("share of rows", tickformat=".0%"),
    )  # fmt: skip


def verdict_sentence(column: dict) -> str:
    test = column["test"]
    if test in P_VALUE_TESTS:
        rule = f"p = {column['score']:.3g}, drift when p < {column['threshold']:g}"
    else:
        rule = f"{column['score']:.3g}, drift when at least {column['threshold']:g}"
    return f"{'Drifted' if column['drifted'] else 'No drift'} ({rule})."


def columns_shown(report: object) -> list[dict]:
    """Each tested column with its chart, test name and verdict sentence, drifted columns first."""
    columns = list((report.result or {}).get("columns") or [])
    columns.sort(key=lambda column: (not column["drifted"], column["column"]))
    return [
        {**column, "test_name": TEST_NAMES.get(column["test"], column["test"]), "verdict": verdict_sentence(column),
         "chart": overlay_html(column)}
        for column in columns
    ]  # fmt: skip


def side_sentence(side: dict, what: str) -> str:
    """Prediction or label drift in words."""
    if not side:
        return f"No {what} to compare yet."
    if "error" in side:
        return f"{what.capitalize()} could not be compared: {side['error']}"
    return f"{TEST_NAMES.get(side['test'], side['test'])}: {verdict_sentence(side)}"
