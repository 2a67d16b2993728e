"""The parimutuel split (US-290) and the fewest settle-up transfers (US-281), as pure arithmetic."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.tote.split import Stake, parimutuel, settle_up


def stakes(*amounts: int) -> list[Stake]:
    return [Stake(bet_id=index + 1, amount_cents=amount, rank=index) for index, amount in enumerate(amounts)]


def test_us290_a_single_winner_takes_the_whole_pot():
    assert parimutuel(75_00, stakes(10_00)) == {1: 75_00}


def test_us290_winners_share_in_proportion_to_their_amounts():
    # 10 + 30 on the outcome, 60 elsewhere: the pot of 100 pays 25 and 75.
    assert parimutuel(100_00, stakes(10_00, 30_00)) == {1: 25_00, 2: 75_00}


def test_us290_cents_that_do_not_divide_go_to_the_largest_remainders_then_the_earliest_bet():
    # 10.00 shared by three equal bets: 3.33 each and one cent left, to the earliest bet.
    assert parimutuel(10_00, stakes(1_00, 1_00, 1_00)) == {1: 3_34, 2: 3_33, 3: 3_33}
    # 1.00 among 1, 2 and 4 cents: exact shares 14.28, 28.57, 57.14 cents -> 14, 29, 57.
    assert parimutuel(1_00, stakes(1, 2, 4)) == {1: 14, 2: 29, 3: 57}


def test_us290_the_earliest_bet_wins_a_tie_whatever_the_ids():
    tied = [Stake(bet_id=9, amount_cents=1, rank=1), Stake(bet_id=4, amount_cents=1, rank=0)]
    assert parimutuel(3, tied) == {4: 2, 9: 1}


def test_us290_several_bets_by_one_bettor_are_each_paid_in_proportion():
    # One bettor's two bets (ids 1 and 3) and someone else's (2), all on the winning outcome.
    assert parimutuel(90_00, stakes(5_00, 10_00, 15_00)) == {1: 15_00, 2: 30_00, 3: 45_00}


def test_us290_bets_on_one_outcome_only_get_their_money_back():
    assert parimutuel(30_00, stakes(10_00, 20_00)) == {1: 10_00, 2: 20_00}


def test_us281_nobody_won_means_no_payouts_here():
    assert parimutuel(50_00, []) == {}


def test_an_empty_pot_pays_zeros():
    assert parimutuel(0, stakes(1_00)) == {1: 0}


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        parimutuel(-1, stakes(1))
    with pytest.raises(ValueError):
        parimutuel(10, stakes(0))


@settings(max_examples=300, deadline=None)
@given(
    winners=st.lists(st.integers(min_value=1, max_value=10_000_00), min_size=1, max_size=20),
    losers=st.lists(st.integers(min_value=1, max_value=10_000_00), max_size=20),
)
def test_us290_properties_payouts_sum_to_the_pot_and_are_proportional_within_a_cent(winners, losers):
    pot = sum(winners) + sum(losers)
    payouts = parimutuel(pot, stakes(*winners))
    assert sum(payouts.values()) == pot
    total = sum(winners)
    for stake in stakes(*winners):
        exact = Fraction(pot * stake.amount_cents, total)
        assert abs(payouts[stake.bet_id] - exact) < 1
        assert payouts[stake.bet_id] >= stake.amount_cents  # nobody loses on the winning side
    # Losers are not in the winners' list, so they get nothing: no key other than the winners'.
    assert set(payouts) == {stake.bet_id for stake in stakes(*winners)}


def _apply(positions, transfers):
    left = dict(positions)
    for transfer in transfers:
        assert transfer.amount_cents > 0
        left[transfer.payer] += transfer.amount_cents
        left[transfer.payee] -= transfer.amount_cents
    return left


def _fewest_by_brute_force(amounts: list[int]) -> int:
    """n minus the most zero-sum groups, by trying every way to split (small n only)."""
    people = [amount for amount in amounts if amount]

    def most_groups(items):
        if not items:
            return 0
        first, rest = items[0], items[1:]
        best = 0
        for size in range(len(rest) + 1):
            for chosen in itertools.combinations(range(len(rest)), size):
                if first + sum(rest[i] for i in chosen) == 0:
                    others = [rest[i] for i in range(len(rest)) if i not in chosen]
                    best = max(best, 1 + most_groups(others))
        return best

    return len(people) - most_groups(people)


def test_us281_settle_up_pairs_people_who_cancel_out():
    positions = {"ann": -5_00, "bob": 5_00, "cat": -3_00, "dan": 3_00, "eve": 0}
    transfers = settle_up(positions)
    assert len(transfers) == 2
    assert all(value == 0 for value in _apply(positions, transfers).values())


def test_us281_settle_up_refuses_positions_that_do_not_sum_to_zero():
    with pytest.raises(ValueError):
        settle_up({"ann": 1})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=7))
def test_us281_settle_up_brings_everyone_to_zero_with_the_fewest_transfers(amounts):
    amounts = [*amounts, -sum(amounts)]
    positions = {f"p{index}": amount for index, amount in enumerate(amounts)}
    transfers = settle_up(positions)
    assert all(value == 0 for value in _apply(positions, transfers).values())
    assert len(transfers) == _fewest_by_brute_force(amounts)
