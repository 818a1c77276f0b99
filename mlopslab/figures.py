"""How every plotly chart on the site is laid out and turned into an HTML fragment.

plotly.js is loaded once by the page (static/vendor/plotly-strict.min.js), so a fragment carries
only its figure. Charts take the width of their card: no width is fixed here, the figure
autosizes, and static/js/site.js redraws it whenever its card changes width. The toolbar
(modebar) keeps the top strip of the chart to itself; the title sits below it, flush left,
so that neither covers the other however narrow the card.
"""

import uuid

import plotly.graph_objects as go
import plotly.io as pio
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}
MODEBAR_STRIP = 36
"""Pixels at the top of a chart left to the modebar."""
TITLE_SIZE = 15
TOP_MARGIN = MODEBAR_STRIP + 40
LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.22, "yanchor": "top"}


def figure_html(figure: go.Figure, title: str, *, height: int = 320, **layout: object) -> str:
    """The figure as an HTML fragment of `height` pixels, as wide as its container."""
    margin = {"l": 50, "r": 20, "t": TOP_MARGIN, "b": 40, **layout.pop("margin", {})}
    figure.update_layout(
        title={
            "text": title,
            "font": {"size": TITLE_SIZE},
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": MODEBAR_STRIP, "l": 8},
        },
        template="plotly_white",
        autosize=True,
        height=height,
        margin=margin,
        legend=LEGEND,
        **layout,
    )
    return figure_element(figure, height=height)


# Characters that could end the data block or start markup inside it, as json_script escapes them.
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def figure_element(figure: go.Figure, *, height: int) -> SafeString:
    """An empty chart box and the figure as a JSON data block beside it, drawn by static/js/site.js.

    The page runs no inline script (its Content-Security-Policy forbids them), so the figure travels
    as data: a `<script type="application/json">` block is never executed.
    """
    spec_id = f"figure-{uuid.uuid4().hex[:12]}"
    spec = pio.json.to_json_plotly({**figure.to_dict(), "config": CONFIG})
    return format_html(
        '<div class="plotly-graph-div" data-figure="{}" style="height: {}px; width: 100%"></div>'
        '<script type="application/json" id="{}">{}</script>',
        spec_id,
        height,
        spec_id,
        mark_safe(spec.translate(_JSON_ESCAPES)),
    )
