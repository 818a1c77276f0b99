"""The shape of a dataset version's column profile, as plain data.

Computing a profile needs pandas and numpy (sandbox.ml.datasets.profile); showing a stored one
needs only this module, so a profile page read from its stored profile imports neither.
"""

from dataclasses import dataclass, field

MAX_BINS = 30
"""A numeric column's histogram has at most this many bins, however many rows it has."""
MAX_BARS = 12
"""A text column's (or a class target's) chart shows this many values; the rest are one "other" bar."""


@dataclass
class ColumnProfile:
    name: str
    dtype: str
    missing: int
    unique: int
    numeric: bool
    mean: float | None = None
    std: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    top: list[tuple[str, int]] = field(default_factory=list)
    """A text column's five most common values, with their counts."""
    bins: list[tuple[float, float, int]] = field(default_factory=list)
    """A numeric column's histogram: (low, high, count) per bin, over its finite values."""
    bars: list[tuple[str, int]] = field(default_factory=list)
    """A text column's MAX_BARS most common values and, past those, one bar for all the others."""
