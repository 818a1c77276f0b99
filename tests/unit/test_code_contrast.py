"""Every colour a code block uses reaches WCAG AA (4.5:1) on the background it is drawn on, in both colour schemes.

axe checks the tokens of the lessons a browser test opens; this checks every token class
static/css/pygments.css styles, including those no lesson uses yet.
"""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css"
AA = 4.5
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
DARK = "@media (prefers-color-scheme: dark)"


def _luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _rules(css: str) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """(selector, declarations) for the rules outside any @media and inside the dark-scheme ones."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    outside, inside = [], []
    position = 0
    while (start := css.find(DARK, position)) >= 0:
        body_start = css.index("{", start) + 1
        depth, end = 1, body_start
        while depth:
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        outside.append(css[position:start])
        inside.append(css[body_start : end - 1])
        position = end
    outside.append(css[position:])

    def parse(text: str) -> list[tuple[str, dict[str, str]]]:
        rules = []
        for selector, body in RULE.findall(text):
            pairs = (part.split(":", 1) for part in body.split(";") if ":" in part)
            rules.append((selector.strip(), {k.strip(): v.strip() for k, v in pairs}))
        return rules

    return {"light": parse("\n".join(outside)), "dark": parse("\n".join(inside))}


def _code_background(scheme: str) -> tuple[str, str]:
    """The background and text colour site.css gives a lesson's code block in `scheme`."""
    for selector, declarations in _rules((CSS / "site.css").read_text())[scheme]:
        if selector == ".prose pre":
            return declarations["background"], declarations["color"]
    raise AssertionError(f"site.css has no .prose pre rule for the {scheme} scheme")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_code_token_colour_meets_aa_on_the_code_background(scheme: str) -> None:
    background, text = _code_background(scheme)
    assert contrast(text, background) >= AA
    checked, failing = 0, []
    for selector, declarations in _rules((CSS / "pygments.css").read_text())[scheme]:
        colour = declarations.get("color")
        if not selector.startswith(".highlight .") or colour in (None, "inherit"):
            continue
        behind = declarations.get("background-color", "transparent")
        behind = background if behind == "transparent" else behind
        checked += 1
        if contrast(colour, behind) < AA:
            failing.append(f"{selector} {colour} on {behind}: {contrast(colour, behind):.2f}")
    assert checked > 40, f"only {checked} token colours found for {scheme}: is pygments.css still parsed right?"
    assert not failing, failing


def test_contrast_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#0E84B5", "#f6f8fa") < AA
