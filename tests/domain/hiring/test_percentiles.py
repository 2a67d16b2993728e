"""US-080: the percentile rule, its ties and the small-sample fallback (hypothesis properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.hiring.scoring import PASS_MARK, PERCENTILE, percentile_rank, traits_from_results, verdict

scores = st.floats(min_value=0, max_value=100, allow_nan=False)
populations = st.lists(scores, min_size=1, max_size=200)


@given(scores, populations)
def test_a_percentile_is_between_0_and_100(score, earlier):
    assert 0.0 <= percentile_rank(score, earlier) <= 100.0


@given(scores, scores, populations)
def test_a_higher_score_never_ranks_lower(a, b, earlier):
    low, high = sorted((a, b))
    assert percentile_rank(low, earlier) <= percentile_rank(high, earlier)


@given(populations)
def test_above_everyone_is_100_and_below_everyone_is_0(earlier):
    assert percentile_rank(max(earlier) + 1, earlier) == 100.0
    assert percentile_rank(min(earlier) - 1, earlier) == 0.0


@given(scores, st.integers(min_value=1, max_value=300))
def test_a_tie_with_everyone_ranks_in_the_middle(score, count):
    """Ties count half: whoever came first, equal scores rank the same (50 when all are equal)."""
    assert percentile_rank(score, [score] * count) == 50.0


@given(populations)
def test_the_order_of_earlier_attempts_does_not_matter(earlier):
    score = earlier[len(earlier) // 2]
    assert percentile_rank(score, earlier) == percentile_rank(score, list(reversed(earlier)))


def test_ties_counted_half():
    # Below: 2 (10, 20); equal: 2 (50, 50); above: 1 (90) -> (2 + 1) / 5
    assert percentile_rank(50, [10, 20, 50, 50, 90]) == pytest.approx(60.0)


def test_us080_top_3_percent_passes_with_enough_attempts():
    # 100 earlier attempts, 97 below and 3 equal: percentile 98.5 >= 97
    result = verdict(100.0, 97, 3, 100, top_percent=3, min_attempts=100, pass_mark_percent=70)
    assert result == result.__class__(True, PERCENTILE, 98.5)
    result = verdict(90.0, 95, 0, 100, top_percent=3, min_attempts=100, pass_mark_percent=70)
    assert (result.passed, result.rule) == (False, PERCENTILE)


def test_us080_too_few_attempts_the_pass_mark_decides():
    result = verdict(75.0, 0, 0, 99, top_percent=3, min_attempts=100, pass_mark_percent=70)
    assert (result.passed, result.rule) == (True, PASS_MARK)
    assert verdict(65.0, 98, 0, 99, top_percent=3, min_attempts=100, pass_mark_percent=70).passed is False
    assert verdict(65.0, 0, 0, 0, top_percent=3, min_attempts=100, pass_mark_percent=70).percentile is None


def test_us120_traits_from_rank_or_pass_mark():
    strengths, weaknesses = traits_from_results(
        [
            ("cleaning", PERCENTILE, 95.0, True),
            ("cooking", PERCENTILE, 10.0, False),
            ("gardening", PERCENTILE, 60.0, False),
            ("shopping", PASS_MARK, None, True),
            ("repairs", PASS_MARK, 40.0, False),
        ],
        strength_percentile=90,
        weakness_percentile=25,
    )
    assert strengths == ["cleaning", "shopping"]
    assert weaknesses == ["cooking", "repairs"]
