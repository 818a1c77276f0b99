from pathlib import Path

import django_htmx
import plotly

STATIC = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_vendored_plotly_matches_the_installed_python_package() -> None:
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert (STATIC / "plotly.min.js").read_bytes() == bundled.read_bytes()


def test_vendored_htmx_matches_the_one_django_htmx_ships() -> None:
    shipped = Path(django_htmx.__file__).parent / "static" / "django_htmx" / "htmx-2.min.js"
    assert (STATIC / "htmx.min.js").read_bytes() == shipped.read_bytes()
