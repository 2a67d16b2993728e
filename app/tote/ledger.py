"""The tote's own ledger: balanced, append-only, idempotent transactions in integer cents.

`post()` is the only way the tote records money. The database holds the promises too (see the
migration `tote_0001`): UPDATE and DELETE on its rows are refused by triggers, and a deferred
constraint trigger refuses to commit a transaction whose entries do not sum to zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.tote.models import AccountKind, ToteAccount, ToteEntry, ToteTransaction


class UnbalancedTransaction(ValueError):
    pass


def account_id(kind: AccountKind, user_id: int | None = None) -> int:
    """A bettor's account, or the stakes or house account; created on first use."""
    if (kind == AccountKind.BETTOR) != (user_id is not None):
        raise ValueError(f"a {kind} account {'needs' if user_id is None else 'has no'} user")
    where = (
        (ToteAccount.kind == kind, ToteAccount.user_id == user_id)
        if user_id is not None
        else (ToteAccount.kind == kind, ToteAccount.user_id.is_(None))
    )
    found = db.session.scalar(select(ToteAccount.id).where(*where))
    if found is not None:
        return found
    statement = insert(ToteAccount).values(kind=kind, user_id=user_id)
    if user_id is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["kind", "user_id"])
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["kind"], index_where=ToteAccount.user_id.is_(None))
    db.session.execute(statement)
    return db.session.scalar(select(ToteAccount.id).where(*where))


def bettor_account_ids(user_ids) -> dict[int, int]:
    """{user id: their account id} for many bettors in two statements (accounts made as needed)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    query = select(ToteAccount.user_id, ToteAccount.id).where(
        ToteAccount.kind == AccountKind.BETTOR, ToteAccount.user_id.in_(wanted)
    )
    found = dict(db.session.execute(query).all())
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        db.session.execute(
            insert(ToteAccount)
            .values([{"kind": AccountKind.BETTOR, "user_id": user_id} for user_id in missing])
            .on_conflict_do_nothing(index_elements=["kind", "user_id"])
        )
        found = dict(db.session.execute(query).all())
    return found


def post(
    key: str,
    kind: str,
    description: str,
    occurred_at: datetime,
    entries: Iterable[tuple[int, int]],
    *,
    pool_id: int | None = None,
    created_by_id: int | None = None,
) -> tuple[ToteTransaction, bool]:
    """Record a transaction once per key; returns (the transaction, whether it is new).

    `entries` are (account id, signed cents), summed per account; zero lines are dropped and the
    rest must sum to zero. Posting a key again returns the first transaction and changes nothing.
    """
    totals: dict[int, int] = {}
    for account, amount in entries:
        totals[account] = totals.get(account, 0) + int(amount)
    lines = [(account, amount) for account, amount in totals.items() if amount]
    if not lines or sum(amount for _account, amount in lines) != 0:
        raise UnbalancedTransaction(f"{key}: entries {lines} do not balance")
    inserted = db.session.execute(
        insert(ToteTransaction)
        .values(
            idempotency_key=key,
            kind=kind,
            description=description,
            occurred_at=occurred_at,
            pool_id=pool_id,
            created_by_id=created_by_id,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(ToteTransaction.id)
    ).scalar_one_or_none()
    if inserted is None:
        return db.session.scalar(select(ToteTransaction).where(ToteTransaction.idempotency_key == key)), False
    db.session.execute(
        insert(ToteEntry),
        [
            {"transaction_id": inserted, "account_id": account, "amount_cents": amount, "occurred_at": occurred_at}
            for account, amount in lines
        ],
    )
    return db.session.get(ToteTransaction, inserted), True


def balance(account: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ToteEntry.amount_cents), 0)).where(ToteEntry.account_id == account)
        )
    )


def balances(kind: AccountKind) -> dict[int | None, int]:
    """{user id (None for the house and stakes): balance} for every account of a kind, in one query."""
    rows = db.session.execute(
        select(ToteAccount.user_id, func.coalesce(func.sum(ToteEntry.amount_cents), 0))
        .outerjoin(ToteEntry, ToteEntry.account_id == ToteAccount.id)
        .where(ToteAccount.kind == kind)
        .group_by(ToteAccount.id)
    ).all()
    return {user_id: int(total) for user_id, total in rows}


def unbalanced_transactions() -> list[int]:
    """Ids of transactions whose entries do not sum to zero: always empty (the test invariant)."""
    return list(
        db.session.scalars(
            select(ToteEntry.transaction_id)
            .group_by(ToteEntry.transaction_id)
            .having(func.sum(ToteEntry.amount_cents) != 0)
        )
    )
