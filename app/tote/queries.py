"""Read models of the tote's pages: the board, a pool, my bets, the leaderboard, the settle-up.

Each list is a fixed number of statements whatever its length (no query per row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.paging import fetch_page
from app.tote import ledger
from app.tote.models import (
    OUTCOMES,
    AccountKind,
    Bet,
    Pool,
    PoolStatus,
    Settlement,
    ToteAccount,
    ToteEntry,
    ToteTransaction,
    TransactionKind,
)
from app.tote.split import Transfer, settle_up


@dataclass
class PoolView:
    pool: Pool
    totals: dict[str, int] = field(default_factory=dict)  # outcome -> cents on it (active bets)

    @property
    def pot(self) -> int:
        return sum(self.totals.values())

    def payout_per_unit(self, outcome: str) -> Decimal | None:
        """What one unit on `outcome` would bring back if it happened now (None: nobody on it)."""
        on = self.totals.get(outcome, 0)
        if not on:
            return None
        return (Decimal(self.pot) / Decimal(on)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _totals(pool_ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {pool_id: dict.fromkeys(OUTCOMES, 0) for pool_id in pool_ids}
    if not pool_ids:
        return found
    rows = db.session.execute(
        select(Bet.pool_id, Bet.outcome, func.sum(Bet.amount_cents))
        .where(Bet.pool_id.in_(pool_ids), Bet.withdrawn_at.is_(None))
        .group_by(Bet.pool_id, Bet.outcome)
    ).all()
    for pool_id, outcome, total in rows:
        found[pool_id][outcome] = int(total)
    return found


def open_pools_query(now: datetime):
    return select(Pool).where(Pool.status == PoolStatus.OPEN, Pool.closes_at > now)


def board(page: int, per_page: int, now: datetime | None = None) -> tuple[list[PoolView], bool, int]:
    """Open pools, closing soonest first: (page of pools with their totals, has next, how many open)."""
    now = now or utcnow()
    pools, has_next = fetch_page(open_pools_query(now).order_by(Pool.closes_at, Pool.id), page, per_page)
    count = db.session.scalar(select(func.count()).select_from(open_pools_query(now).subquery()))
    totals = _totals([pool.id for pool in pools])
    return [PoolView(pool, totals[pool.id]) for pool in pools], has_next, count


def pool_view(pool_id: int) -> PoolView | None:
    pool = db.session.get(Pool, pool_id)
    if pool is None:
        return None
    return PoolView(pool, _totals([pool.id])[pool.id])


def pool_bets(pool_id: int) -> list[Bet]:
    return list(
        db.session.scalars(
            select(Bet).where(Bet.pool_id == pool_id).options(joinedload(Bet.bettor)).order_by(Bet.placed_at, Bet.id)
        )
    )


def settlement(pool_id: int) -> Settlement | None:
    return db.session.get(Settlement, pool_id)


def my_open_bets(user_id: int) -> list[Bet]:
    """Bets not withdrawn on pools not settled yet (open or closed), soonest close first."""
    return list(
        db.session.scalars(
            select(Bet)
            .join(Pool)
            .where(Bet.bettor_id == user_id, Bet.withdrawn_at.is_(None), Pool.status != PoolStatus.SETTLED)
            .options(joinedload(Bet.pool))
            .order_by(Pool.closes_at, Bet.id)
        )
    )


def my_settled_bets(user_id: int, page: int, per_page: int) -> tuple[list[Bet], bool]:
    return fetch_page(
        select(Bet)
        .join(Pool)
        .where(Bet.bettor_id == user_id, Bet.withdrawn_at.is_(None), Pool.status == PoolStatus.SETTLED)
        .options(joinedload(Bet.pool))
        .order_by(Pool.settled_at.desc(), Bet.id.desc()),
        page,
        per_page,
    )


@dataclass
class LeaderRow:
    user_id: int
    name: str
    staked_cents: int
    paid_cents: int
    bets: int

    @property
    def net_cents(self) -> int:
        return self.paid_cents - self.staked_cents


def leaderboard(since: datetime | None = None, until: datetime | None = None) -> list[LeaderRow]:
    """Net result per bettor over pools settled in [since, until): winnings minus stakes, best first."""
    query = (
        select(
            User.id,
            User.name,
            func.sum(Bet.amount_cents),
            func.sum(func.coalesce(Bet.payout_cents, 0)),
            func.count(Bet.id),
        )
        .join(Bet, Bet.bettor_id == User.id)
        .join(Pool, Pool.id == Bet.pool_id)
        .where(Pool.status == PoolStatus.SETTLED, Bet.withdrawn_at.is_(None))
        .group_by(User.id, User.name)
    )
    if since is not None:
        query = query.where(Pool.settled_at >= since)
    if until is not None:
        query = query.where(Pool.settled_at < until)
    rows = [
        LeaderRow(uid, name, int(staked), int(paid), int(count))
        for uid, name, staked, paid, count in db.session.execute(query)
    ]
    return sorted(rows, key=lambda row: (-row.net_cents, row.name))


def open_stakes(user_id: int | None = None) -> dict[int, int]:
    """{bettor id: cents in bets still in play} (not withdrawn, pool not settled), for one or all."""
    query = (
        select(Bet.bettor_id, func.sum(Bet.amount_cents))
        .where(Bet.payout_cents.is_(None), Bet.withdrawn_at.is_(None))
        .group_by(Bet.bettor_id)
    )
    if user_id is not None:
        query = query.where(Bet.bettor_id == user_id)
    return {bettor_id: int(total) for bettor_id, total in db.session.execute(query).all()}


def my_position(user_id: int) -> int:
    """What one bettor is up or down from settled pools and transfers (their settle-up position)."""
    return balance_of(user_id) + open_stakes(user_id).get(user_id, 0)


def positions() -> dict[int | str, int]:
    """What each bettor is up (positive) or down from settled pools and transfers, and what the
    developers are owed (key "house"): the ledger balances, with stakes still in play set aside.
    They sum to zero."""
    balances = ledger.balances(AccountKind.BETTOR)
    for bettor_id, staked in open_stakes().items():
        balances[bettor_id] = balances.get(bettor_id, 0) + staked
    result: dict[int | str, int] = {bettor_id: amount for bettor_id, amount in sorted(balances.items())}
    result["house"] = ledger.balances(AccountKind.HOUSE).get(None, 0)
    return result


def names(user_ids) -> dict[int, str]:
    ids = [user_id for user_id in user_ids if isinstance(user_id, int)]
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def settle_up_transfers() -> list[Transfer]:
    return settle_up(positions())


def balance_of(user_id: int) -> int:
    """A bettor's ledger balance: stakes out, winnings and transfers in (negative = down)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ToteEntry.amount_cents), 0))
            .join(ToteAccount, ToteAccount.id == ToteEntry.account_id)
            .where(ToteAccount.kind == AccountKind.BETTOR, ToteAccount.user_id == user_id)
        )
    )


@dataclass
class TransferLine:
    transaction: ToteTransaction
    payer_id: int | None
    payee_id: int | str | None
    amount_cents: int


def transfers_of(user_id: int | None = None, limit: int = 50) -> list[TransferLine]:
    """Settle-up transfers done (those touching `user_id`, or all), newest first."""
    query = (
        select(ToteTransaction)
        .where(ToteTransaction.kind == TransactionKind.TRANSFER)
        .options(selectinload(ToteTransaction.created_by))
        .order_by(ToteTransaction.occurred_at.desc(), ToteTransaction.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        mine = (
            select(ToteEntry.transaction_id)
            .join(ToteAccount, ToteAccount.id == ToteEntry.account_id)
            .where(ToteAccount.user_id == user_id)
        )
        query = query.where(ToteTransaction.id.in_(mine))
    transactions = list(db.session.scalars(query))  # entries load with one selectin query
    account_ids = {entry.account_id for transaction in transactions for entry in transaction.entries}
    accounts = (
        {
            account.id: account
            for account in db.session.scalars(select(ToteAccount).where(ToteAccount.id.in_(account_ids)))
        }
        if account_ids
        else {}
    )
    lines = []
    for transaction in transactions:
        payer = payee = None
        amount = 0
        for entry in transaction.entries:
            account = accounts[entry.account_id]
            party = account.user_id if account.kind == AccountKind.BETTOR else "house"
            if entry.amount_cents > 0:
                payer, amount = party, entry.amount_cents
            else:
                payee = party
        lines.append(TransferLine(transaction, payer, payee, amount))
    return lines


@dataclass
class DevelopersPot:
    won_cents: int  # every no-winner pot ever (US-281)
    pools: int
    owed_cents: int  # what the bettors still owe the developers (the house account's balance)


def developers_pot() -> DevelopersPot:
    won, pools = db.session.execute(
        select(func.coalesce(func.sum(Settlement.house_cents), 0), func.count()).where(Settlement.house_cents > 0)
    ).one()
    return DevelopersPot(int(won), int(pools), ledger.balances(AccountKind.HOUSE).get(None, 0))


def settled_pools(page: int, per_page: int) -> tuple[list[PoolView], bool]:
    pools, has_next = fetch_page(
        select(Pool).where(Pool.status == PoolStatus.SETTLED).order_by(Pool.settled_at.desc(), Pool.id.desc()),
        page,
        per_page,
    )
    totals = _totals([pool.id for pool in pools])
    return [PoolView(pool, totals[pool.id]) for pool in pools], has_next
