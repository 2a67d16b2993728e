"""The tote's arithmetic, free of tables: the parimutuel split and the fewest settle-up transfers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stake:
    """A winning bet as the split sees it: an id, its amount, and its rank (earlier bets first)."""

    bet_id: int
    amount_cents: int
    rank: int


def parimutuel(pot_cents: int, winners: Sequence[Stake]) -> dict[int, int]:
    """Share `pot_cents` among `winners` in proportion to their amounts, to the cent (US-290).

    Each bet first gets the floor of its exact share `pot * amount / total`; the cents left over
    (fewer than the number of winners) go one each to the bets with the largest remainders, ties
    going to the earliest bet (lowest rank). The payouts sum to the pot exactly, and each differs
    from its exact share by less than one cent. An empty list of winners gets nothing: the caller
    decides where the pot goes then (the house, US-281).
    """
    if pot_cents < 0:
        raise ValueError("a pot cannot be negative")
    if not winners:
        return {}
    if any(stake.amount_cents <= 0 for stake in winners):
        raise ValueError("winning stakes must be positive")
    total = sum(stake.amount_cents for stake in winners)
    shares = {}
    remainders = []
    for stake in winners:
        share, remainder = divmod(pot_cents * stake.amount_cents, total)
        shares[stake.bet_id] = share
        remainders.append((-remainder, stake.rank, stake.bet_id))
    left = pot_cents - sum(shares.values())
    for _remainder, _rank, bet_id in sorted(remainders)[:left]:
        shares[bet_id] += 1
    return shares


@dataclass(frozen=True)
class Transfer:
    payer: object
    payee: object
    amount_cents: int


EXACT_LIMIT = 16  # parties with a non-zero position; 2**16 subsets is still quick


def settle_up(positions: dict[object, int]) -> list[Transfer]:
    """The fewest transfers that bring every position to zero (positive = is owed, negative = owes).

    The fewest transfers for n people are n minus the largest number of groups the people can be
    split into whose positions each sum to zero (each group of k needs k - 1 transfers, and no
    fewer). With up to EXACT_LIMIT people that split is found exactly by a dynamic programme over
    subsets; beyond it the people form one group. Within a group the largest debtor pays the
    largest creditor until everyone is at zero. Ties are broken by the order of `positions`.
    """
    if sum(positions.values()) != 0:
        raise ValueError("positions must sum to zero")
    parties = [(party, amount) for party, amount in positions.items() if amount]
    groups = _zero_sum_groups([amount for _party, amount in parties]) if len(parties) <= EXACT_LIMIT else None
    if groups is None:
        groups = [list(range(len(parties)))]
    transfers: list[Transfer] = []
    for group in groups:
        transfers.extend(_greedy([parties[index] for index in group]))
    return transfers


def _zero_sum_groups(amounts: list[int]) -> list[list[int]]:
    n = len(amounts)
    if n == 0:
        return []
    full = (1 << n) - 1
    sums = [0] * (full + 1)
    best = [0] * (full + 1)
    for mask in range(1, full + 1):
        low = mask & -mask
        sums[mask] = sums[mask ^ low] + amounts[low.bit_length() - 1]
        top = 0
        rest = mask
        while rest:
            bit = rest & -rest
            rest ^= bit
            value = best[mask ^ bit]
            if value > top:
                top = value
        best[mask] = top + (1 if sums[mask] == 0 else 0)
    # Walk back: removing one element at a time along an optimal path; a zero-sum prefix ends a group.
    order = []
    mask = full
    while mask:
        need = best[mask] - (1 if sums[mask] == 0 else 0)
        rest = mask
        while rest:
            bit = rest & -rest
            rest ^= bit
            if best[mask ^ bit] == need:
                break
        order.append(bit.bit_length() - 1)
        mask ^= bit
    order.reverse()
    groups, current, running = [], [], 0
    for index in order:
        current.append(index)
        running += amounts[index]
        if running == 0:
            groups.append(sorted(current))
            current = []
    return groups


def _greedy(group: list[tuple[object, int]]) -> list[Transfer]:
    owed = [[party, amount] for party, amount in group if amount > 0]
    owing = [[party, -amount] for party, amount in group if amount < 0]
    transfers = []
    while owed and owing:
        owed.sort(key=lambda item: -item[1])
        owing.sort(key=lambda item: -item[1])
        creditor, debtor = owed[0], owing[0]
        amount = min(creditor[1], debtor[1])
        transfers.append(Transfer(payer=debtor[0], payee=creditor[0], amount_cents=amount))
        creditor[1] -= amount
        debtor[1] -= amount
        owed = [item for item in owed if item[1]]
        owing = [item for item in owing if item[1]]
    return transfers
