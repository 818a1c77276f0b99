"""The question statistics' arithmetic, against values worked by hand and scipy's point-biserial."""

import math
import subprocess
import sys

import pytest

from cohorts import statistics


def test_point_biserial_matches_a_hand_computed_value() -> None:
    # mean x = .5, mean y = .5; sxy = .25 + 0 + 0 + .25 = .5; sxx = 1; syy = .5; r = .5 / sqrt(.5)
    assert statistics.point_biserial([1, 1, 0, 0], [1.0, 0.5, 0.5, 0.0]) == pytest.approx(1 / math.sqrt(2))


def test_point_biserial_is_negative_when_strong_learners_miss_the_item() -> None:
    assert statistics.point_biserial([0, 0, 1, 1], [1.0, 0.8, 0.2, 0.0]) < -0.9


def test_point_biserial_agrees_with_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    item = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1]
    rest = [0.9, 0.4, 0.7, 0.8, 0.5, 0.6, 0.3, 0.6, 1.0, 0.5]
    expected = scipy_stats.pointbiserialr(item, rest).statistic
    assert statistics.point_biserial(item, rest) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("item", "rest"),
    [([1], [0.5]), ([1, 1, 1], [0.1, 0.5, 0.9]), ([0, 1, 0], [0.5, 0.5, 0.5]), ([], [])],
)
def test_point_biserial_is_undefined_without_variation_or_pairs(item: list[int], rest: list[float]) -> None:
    assert statistics.point_biserial(item, rest) is None


def test_rest_score_leaves_the_item_out() -> None:
    assert statistics.rest_score(attempt_correct=4, attempt_graded=5, item_correct=True) == pytest.approx(3 / 4)
    assert statistics.rest_score(attempt_correct=4, attempt_graded=5, item_correct=False) == pytest.approx(4 / 4)
    assert statistics.rest_score(attempt_correct=1, attempt_graded=1, item_correct=True) is None


def test_item_summary_counts_shares_and_discrimination_over_the_rest() -> None:
    # Four attempts of 3 graded questions: (this item right, attempt's correct, graded).
    answers = [(True, 3, 3), (True, 2, 3), (False, 1, 3), (False, 0, 3)]
    summary = statistics.item_summary(answers)
    assert (summary.answered, summary.correct, summary.share_correct) == (4, 2, 0.5)
    # Rest scores: 2/2, 1/2, 1/2, 0/2, the first test's pairs again.
    assert summary.discrimination == pytest.approx(1 / math.sqrt(2))
    assert summary.discrimination_pairs == 4


def test_item_summary_of_one_question_attempts_has_no_discrimination() -> None:
    summary = statistics.item_summary([(True, 1, 1), (False, 0, 1)])
    assert summary.discrimination is None
    assert summary.discrimination_pairs == 0
    assert statistics.item_summary([]).share_correct is None


def test_choice_shares_are_of_every_answer_and_count_a_pick_once() -> None:
    shares = statistics.choice_shares([[2], [2, 3], [3, 3]], [2, 3, 4], answered=6)
    assert shares == {2: pytest.approx(2 / 6), 3: pytest.approx(2 / 6), 4: 0.0}
    assert statistics.choice_shares([], [2], answered=0) == {}


def test_most_missed_needs_enough_answers_and_under_half_right() -> None:
    few = statistics.ItemSummary(answered=4, correct=0, discrimination=None, discrimination_pairs=0)
    missed = statistics.ItemSummary(answered=5, correct=2, discrimination=None, discrimination_pairs=0)
    half = statistics.ItemSummary(answered=6, correct=3, discrimination=None, discrimination_pairs=0)
    assert not statistics.is_most_missed(few, min_answers=5)
    assert statistics.is_most_missed(missed, min_answers=5)
    assert not statistics.is_most_missed(half, min_answers=5)


def test_the_statistics_module_loads_without_django() -> None:
    code = "import sys, cohorts.statistics; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_sums_give_the_same_correlation_as_the_pairs() -> None:
    item = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1]
    rest = [0.9, 0.4, 0.7, 0.8, 0.5, 0.6, 0.3, 0.6, 1.0, 0.5]
    sums = statistics.pair_sums(item, rest)
    assert statistics.point_biserial_from_sums(sums) == pytest.approx(statistics.point_biserial(item, rest))
    assert statistics.point_biserial_from_sums(statistics.pair_sums([1, 1, 0, 0], [1.0, 0.5, 0.5, 0.0])) == (
        pytest.approx(1 / math.sqrt(2))
    )


@pytest.mark.parametrize(("item", "rest"), [([1], [0.5]), ([1, 1, 1], [0.1, 0.5, 0.9]), ([0, 1, 0], [0.3] * 3)])
def test_the_sums_are_undefined_where_the_pairs_are(item: list[int], rest: list[float]) -> None:
    assert statistics.point_biserial_from_sums(statistics.pair_sums(item, rest)) is None
    assert statistics.point_biserial_from_sums(statistics.PairSums()) is None


def test_summary_from_sums_matches_the_summary_of_the_answers() -> None:
    answers = [(True, 3, 3), (True, 2, 3), (False, 1, 3), (False, 0, 3), (True, 1, 1)]
    direct = statistics.item_summary(answers)
    paired = [(int(r), (c - r) / (g - 1)) for r, c, g in answers if g > 1]
    sums = statistics.pair_sums([x for x, _ in paired], [y for _, y in paired])
    via_sums = statistics.summary_from_sums(answered=5, correct=3, sums=sums)
    assert (via_sums.answered, via_sums.correct, via_sums.discrimination_pairs) == (5, 3, 4)
    assert via_sums.discrimination == pytest.approx(direct.discrimination)


def test_grouped_answers_give_the_summary_of_the_answers_one_by_one() -> None:
    answers = [(True, 3, 3), (True, 3, 3), (True, 2, 3), (False, 1, 3), (False, 0, 3), (False, 0, 3), (True, 1, 1)]
    groups: dict[tuple[bool, int, int], int] = {}
    for answer in answers:
        groups[answer] = groups.get(answer, 0) + 1
    direct = statistics.item_summary(answers)
    grouped = statistics.summary_from_groups((*key, count) for key, count in groups.items())
    assert (grouped.answered, grouped.correct, grouped.discrimination_pairs) == (7, 4, 6)
    assert grouped.discrimination == pytest.approx(direct.discrimination)
