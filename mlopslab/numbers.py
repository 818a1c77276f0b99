"""Whole numbers as a URL or a form carries them."""

# The largest key a database column holds (a signed 64-bit integer).
MAX_KEY = 2**63 - 1


def whole_number(raw: object, *, maximum: int = MAX_KEY) -> int | None:
    """The number written in ASCII digits, or None: `str.isdigit` also accepts "²", which `int` refuses,
    and a number past `maximum` would overflow the database's integer."""
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
