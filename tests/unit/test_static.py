import hashlib
import json
import re
from pathlib import Path

import django_htmx
import plotly
import plotly.io as pio

STATIC = Path(__file__).resolve().parents[2] / "static" / "vendor"


# plotly.js's "strict" build, from npm's plotly.js-strict-dist-min: it compiles no code at run time, so the
# Content-Security-Policy needs no 'unsafe-eval' (the regular build's WebGL charts, such as parallel
# coordinates, build functions from strings). To update it: `npm pack plotly.js-strict-dist-min@VERSION`
# for the plotly.js version the plotly package bundles, and copy its plotly-strict.min.js here.
STRICT_SHA256 = "4ac841837b31c1bfd2ab140e3a248ddcc6c2106978fbf2c1c18a7aada930a37a"


def _plotly_js_version(source: bytes) -> str:
    match = re.search(rb"plotly\.js (?:\(strict - minified\) )?v(\d+\.\d+\.\d+)", source[:300])
    assert match, "no plotly.js version in the bundle's header"
    return match.group(1).decode()


def test_vendored_plotly_is_the_strict_build_of_the_version_the_python_package_draws_with() -> None:
    vendored = (STATIC / "plotly-strict.min.js").read_bytes()
    bundled = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert hashlib.sha256(vendored).hexdigest() == STRICT_SHA256
    assert b"(strict - minified)" in vendored[:300]
    assert _plotly_js_version(vendored) == _plotly_js_version(bundled)


def test_vendored_htmx_matches_the_one_django_htmx_ships() -> None:
    shipped = Path(django_htmx.__file__).parent / "static" / "django_htmx" / "htmx-2.min.js"
    assert (STATIC / "htmx.min.js").read_bytes() == shipped.read_bytes()


def test_the_chart_template_site_js_applies_is_the_plotly_white_the_python_package_ships() -> None:
    # Figures leave the template out (7 KB each); static/js/site.js fetches this file once and applies it.
    # To update it after upgrading plotly: write json.dumps(pio.templates["plotly_white"].to_plotly_json()).
    vendored = json.loads((STATIC / "plotly-white-template.json").read_text())
    assert vendored == json.loads(json.dumps(pio.templates["plotly_white"].to_plotly_json()))
