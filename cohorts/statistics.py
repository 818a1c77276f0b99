"""The arithmetic of a cohort's question statistics, over plain numbers: no Django, no database.

An item's discrimination is the point-biserial correlation between getting it right (1 or 0) and the rest of
the same attempt's score: the share correct of the attempt's other graded questions. Leaving the item out of
the total keeps it from correlating with itself, which would flatter every item of a short quiz.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def point_biserial(item: Sequence[int], rest: Sequence[float]) -> float | None:
    """Pearson's r between a 0/1 item and a score; None when either side does not vary or fewer than 2 pairs."""
    n = len(item)
    if n != len(rest):
        raise ValueError("item and rest must be the same length")
    if n < 2:
        return None
    mean_x = sum(item) / n
    mean_y = sum(rest) / n
    sxx = sum((x - mean_x) ** 2 for x in item)
    syy = sum((y - mean_y) ** 2 for y in rest)
    if sxx == 0 or syy <= 1e-15:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(item, rest, strict=True))
    return sxy / math.sqrt(sxx * syy)


def rest_score(*, attempt_correct: int, attempt_graded: int, item_correct: bool) -> float | None:
    """The attempt's share correct over its other graded questions; None for an attempt of one question."""
    others = attempt_graded - 1
    if others <= 0:
        return None
    return (attempt_correct - int(item_correct)) / others


@dataclass(frozen=True)
class PairSums:
    """The sums Pearson's r needs over (item, rest) pairs: what a database can add up for every item at once."""

    n: int = 0
    sum_x: float = 0.0
    sum_y: float = 0.0
    sum_yy: float = 0.0
    sum_xy: float = 0.0
    """x is 0 or 1, so the sum of its squares is `sum_x`."""

    def __add__(self, other: "PairSums") -> "PairSums":
        return PairSums(
            self.n + other.n,
            self.sum_x + other.sum_x,
            self.sum_y + other.sum_y,
            self.sum_yy + other.sum_yy,
            self.sum_xy + other.sum_xy,
        )


def pair_sums(item: Sequence[int], rest: Sequence[float]) -> PairSums:
    return PairSums(
        n=len(item),
        sum_x=float(sum(item)),
        sum_y=float(sum(rest)),
        sum_yy=float(sum(y * y for y in rest)),
        sum_xy=float(sum(x * y for x, y in zip(item, rest, strict=True))),
    )


def point_biserial_from_sums(sums: PairSums) -> float | None:
    """`point_biserial` from the pairs' sums; None when either side does not vary or fewer than 2 pairs."""
    n = sums.n
    if n < 2:
        return None
    sxx = n * sums.sum_x - sums.sum_x**2
    syy = n * sums.sum_yy - sums.sum_y**2
    # Relative to the scale of the sums, so that rounding in a constant score is not taken for variation.
    if sxx <= 0 or syy <= 1e-12 * max(1.0, n * sums.sum_yy):
        return None
    return (n * sums.sum_xy - sums.sum_x * sums.sum_y) / math.sqrt(sxx * syy)


@dataclass(frozen=True)
class ItemSummary:
    answered: int
    correct: int
    discrimination: float | None
    discrimination_pairs: int
    """How many finished attempts the discrimination was computed over."""

    @property
    def share_correct(self) -> float | None:
        return self.correct / self.answered if self.answered else None


def summary_from_groups(groups: Iterable[tuple[bool, int, int, int]]) -> ItemSummary:
    """One question over its answers counted in groups: (answered correctly, the attempt's correct, the
    attempt's graded, how many answers), the form a database's GROUP BY gives them in."""
    answered = correct = n = 0
    sum_x = sum_y = sum_yy = sum_xy = 0.0
    for right, attempt_correct, attempt_graded, count in groups:
        answered += count
        correct += count * bool(right)
        rest = rest_score(attempt_correct=attempt_correct, attempt_graded=attempt_graded, item_correct=right)
        if rest is not None:
            n += count
            sum_y += count * rest
            sum_yy += count * rest * rest
            if right:
                sum_x += count
                sum_xy += count * rest
    return summary_from_sums(answered=answered, correct=correct, sums=PairSums(n, sum_x, sum_y, sum_yy, sum_xy))


def summary_from_sums(*, answered: int, correct: int, sums: PairSums) -> ItemSummary:
    return ItemSummary(answered, correct, point_biserial_from_sums(sums), sums.n)


def item_summary(answers: Iterable[tuple[bool, int, int]]) -> ItemSummary:
    """One question over its answers, each (answered correctly, the attempt's correct, the attempt's graded)."""
    answered = correct = 0
    xs: list[int] = []
    ys: list[float] = []
    for right, attempt_correct, attempt_graded in answers:
        answered += 1
        correct += bool(right)
        rest = rest_score(attempt_correct=attempt_correct, attempt_graded=attempt_graded, item_correct=right)
        if rest is not None:
            xs.append(int(bool(right)))
            ys.append(rest)
    return ItemSummary(answered, correct, point_biserial(xs, ys), len(xs))


def choice_shares(picks: Iterable[Iterable[int]], choice_ids: Sequence[int], *, answered: int) -> dict[int, float]:
    """Each choice's share of the `answered` answers that picked it (an answer may pick several); {} for none."""
    if answered <= 0:
        return {}
    counts = dict.fromkeys(choice_ids, 0)
    for picked in picks:
        for pk in set(picked):
            if pk in counts:
                counts[pk] += 1
    return {pk: count / answered for pk, count in counts.items()}


def is_most_missed(summary: ItemSummary, *, min_answers: int, below: float = 0.5) -> bool:
    share = summary.share_correct
    return share is not None and summary.answered >= min_answers and share < below
