"""Scoring answers and ranking scores (US-080). Pure functions: no database, no request.

The percentile of a score is its mid-rank among the earlier scores: the share of them below it,
with each tie counting half. A tie therefore ranks the same whichever came first, a score above
every earlier one ranks 100 and one below all of them 0. See docs/decisions.md, "Hiring".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

PERCENTILE = "percentile"
PASS_MARK = "pass_mark"


def percentile_from_counts(below: int, equal: int, total: int) -> float:
    """The mid-rank percentile from the counts of earlier scores below and equal to a score."""
    if total <= 0:
        raise ValueError("a percentile needs at least one earlier score")
    if below < 0 or equal < 0 or below + equal > total:
        raise ValueError("counts do not fit the total")
    return 100.0 * (below + 0.5 * equal) / total


def percentile_rank(score: float, earlier: Iterable[float]) -> float:
    """`score`'s percentile among `earlier` scores (ties count half)."""
    below = equal = total = 0
    for other in earlier:
        total += 1
        if other < score:
            below += 1
        elif other == score:
            equal += 1
    return percentile_from_counts(below, equal, total)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rule: str  # PERCENTILE or PASS_MARK
    percentile: float | None


def verdict(
    percent: float,
    below: int,
    equal: int,
    total: int,
    *,
    top_percent: float,
    min_attempts: int,
    pass_mark_percent: float,
) -> Verdict:
    """Pass in the top `top_percent`; with fewer than `min_attempts` earlier scores, by the pass mark.

    The percentile is reported whenever there is at least one earlier score, for information; it
    decides only from `min_attempts` on.
    """
    percentile = percentile_from_counts(below, equal, total) if total else None
    if total < min_attempts:
        return Verdict(percent >= pass_mark_percent, PASS_MARK, percentile)
    return Verdict(percentile >= 100.0 - top_percent, PERCENTILE, percentile)


def round_percent(points: int, max_points: int) -> float:
    """Percent of the maximum, rounded so that equal scores compare equal."""
    if max_points <= 0:
        return 0.0
    return round(100.0 * points / max_points, 6)


# ---------------------------------------------------------------- answers


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def is_correct(kind: str, correct, given) -> bool:
    """Whether an answer as given earns the question's points.

    single: the one correct choice; multiple: exactly the correct choices; number: within tolerance.
    """
    if given is None:
        return False
    if kind == "number":
        number = _number(given)
        if number is None or not isinstance(correct, dict):
            return False
        return abs(number - float(correct["value"])) <= float(correct.get("tolerance", 0))
    chosen = given if isinstance(given, list) else [given]
    try:
        chosen_set = {int(item) for item in chosen}
    except (TypeError, ValueError):
        return False
    if kind == "single":
        return len(chosen_set) == 1 and chosen_set == set(correct)
    if kind == "multiple":
        return chosen_set == set(correct)
    return False


def traits_from_results(
    results: Iterable[tuple[str, str, float | None, bool]], *, strength_percentile: float, weakness_percentile: float
) -> tuple[list[str], list[str]]:
    """(strengths, weaknesses) from (trait, rule, percentile, passed) per test (US-120).

    Ranked by percentile: a strength at or above `strength_percentile`, a weakness at or below
    `weakness_percentile`. Decided by the pass mark (too few attempts to rank): passed is a
    strength, failed a weakness. A trait that is both (two tests of it) is neither.
    """
    strengths: list[str] = []
    weaknesses: list[str] = []
    for trait, rule, percentile, passed in results:
        if rule == PERCENTILE and percentile is not None:
            strong, weak = percentile >= strength_percentile, percentile <= weakness_percentile
        else:
            strong, weak = bool(passed), not passed
        if strong and trait not in strengths:
            strengths.append(trait)
        if weak and trait not in weaknesses:
            weaknesses.append(trait)
    both = set(strengths) & set(weaknesses)
    return [t for t in strengths if t not in both], [t for t in weaknesses if t not in both]
