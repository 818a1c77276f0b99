"""How every plotly chart on the site is laid out and turned into an HTML fragment.

A figure is plain data, as plotly.js reads it: a list of traces and a layout. Nothing here imports
plotly's Python package, whose figure objects validate every property (about 20 ms a chart with a
template, most of a page's time when it shows a dozen charts). The look every chart shares, plotly's
"plotly_white" template, is not repeated in each figure (7 KB each): static/js/site.js loads it once,
from static/vendor/plotly-white-template.json, with plotly.js itself, and applies it when it draws.

plotly.js is loaded by site.js only on a page that has a chart, so a fragment carries only its
figure. Charts take the width of their card: no width is fixed here, the figure autosizes, and
site.js redraws it whenever its card changes width. The toolbar (modebar) keeps the top strip of
the chart to itself; the title sits below it, flush left, so that neither covers the other however
narrow the card.
"""

import json
import math
import uuid

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


def axis(title: str, **settings: object) -> dict:
    """A layout axis with its title (plotly.js takes a title as an object)."""
    return {"title": {"text": title}, **settings}


def figure_html(data: list[dict], title: str, *, height: int = 320, **layout: object) -> SafeString:
    """The traces `data` as an HTML fragment of `height` pixels, as wide as its container.

    `layout` holds plotly.js layout properties, as nested dicts (no "xaxis_title" shorthand).
    """
    margin = {"l": 50, "r": 20, "t": TOP_MARGIN, "b": 40, **layout.pop("margin", {})}
    full_layout = {
        "title": {
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
        "autosize": True,
        "height": height,
        "margin": margin,
        "legend": LEGEND,
        **layout,
    }
    return figure_element({"data": data, "layout": full_layout}, height=height)


# Characters that could end the data block or start markup inside it, as json_script escapes them.
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _plain(value: object) -> object:
    """`value` as JSON can carry it: NaN and infinities become null (as plotly's own encoder does),
    numpy scalars become Python numbers, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return _plain(value.item())
    raise TypeError(f"A figure cannot carry {type(value).__name__} values.")


def _scalar(value: object) -> object:
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    raise TypeError(f"A figure cannot carry {type(value).__name__} values.")


def figure_element(figure: dict, *, height: int) -> SafeString:
    """An empty chart box and the figure as a JSON data block beside it, drawn by static/js/site.js.

    The page runs no inline script (its Content-Security-Policy forbids them), so the figure travels
    as data: a `<script type="application/json">` block is never executed.
    """
    spec_id = f"figure-{uuid.uuid4().hex[:12]}"
    figure = {**figure, "config": CONFIG}
    try:
        spec = json.dumps(figure, separators=(",", ":"), allow_nan=False, default=_scalar)
    except ValueError:  # a NaN or an infinity somewhere: walk the figure to make them null
        spec = json.dumps(_plain(figure), separators=(",", ":"), allow_nan=False)
    return format_html(
        '<div class="plotly-graph-div" data-figure="{}" style="height: {}px; width: 100%"></div>'
        '<script type="application/json" id="{}">{}</script>',
        spec_id,
        height,
        spec_id,
        mark_safe(spec.translate(_JSON_ESCAPES)),
    )
