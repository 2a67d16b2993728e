"""The ledger: accounts and balanced, immutable, idempotent transactions in integer cents.

`post()` is the only way money is recorded. The database backs the promises too: entries and
transactions cannot be updated or deleted, and a deferred constraint trigger refuses to commit a
transaction whose entries do not sum to zero (see the migration that creates these tables).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from app.billing.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from app.extensions import db
from app.platform.clock import utcnow


class UnbalancedTransaction(ValueError):
    pass


def account_id(kind: AccountKind, user_id: int | None = None) -> int:
    """The ledger account of a party (client, worker) or of the company (the other kinds)."""
    if (kind in (AccountKind.CLIENT, AccountKind.WORKER)) != (user_id is not None):
        raise ValueError(f"a {kind} account {'needs' if user_id is None else 'has no'} user")
    found = db.session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.kind == kind,
            LedgerAccount.user_id == user_id if user_id is not None else LedgerAccount.user_id.is_(None),
        )
    )
    if found is not None:
        return found
    index = ["kind", "user_id"] if user_id is not None else ["kind"]
    statement = insert(LedgerAccount).values(kind=kind, user_id=user_id)
    statement = statement.on_conflict_do_nothing(
        index_elements=index, index_where=LedgerAccount.user_id.is_(None) if user_id is None else None
    )
    db.session.execute(statement)
    return db.session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.kind == kind,
            LedgerAccount.user_id == user_id if user_id is not None else LedgerAccount.user_id.is_(None),
        )
    )


def post(
    key: str,
    kind: str,
    description: str,
    occurred_at: datetime,
    entries: Iterable[tuple[int, int]],
    *,
    order_id: int | None = None,
    invoice_id: int | None = None,
    created_by_id: int | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Record a transaction once per key; returns (the transaction, whether it is new).

    `entries` are (account id, signed cents); they must sum to zero and none may be zero.
    Posting a key again returns the first transaction and changes nothing.
    """
    entries = [(account, int(amount)) for account, amount in entries if amount]
    if not entries or sum(amount for _account, amount in entries) != 0:
        raise UnbalancedTransaction(f"{key}: entries {entries} do not balance")
    inserted = db.session.execute(
        insert(LedgerTransaction)
        .values(
            idempotency_key=key,
            kind=kind,
            description=description,
            occurred_at=occurred_at,
            order_id=order_id,
            invoice_id=invoice_id,
            created_by_id=created_by_id,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerTransaction.id)
    ).scalar_one_or_none()
    if inserted is None:
        existing = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))
        return existing, False
    db.session.execute(
        insert(LedgerEntry),
        [
            {"transaction_id": inserted, "account_id": account, "amount_cents": amount, "occurred_at": occurred_at}
            for account, amount in entries
        ],
    )
    return db.session.get(LedgerTransaction, inserted), True


@dataclass(frozen=True)
class Posting:
    """One transaction for `post_many` (the arguments of `post`)."""

    key: str
    kind: str
    description: str
    occurred_at: datetime
    entries: list[tuple[int, int]]
    order_id: int | None = None
    invoice_id: int | None = None
    created_by_id: int | None = None


def post_many(postings: list[Posting], chunk: int = 500) -> int:
    """`post` for many transactions, set-based: one INSERT of the transactions (a key posted
    already is skipped, as `post` does) and one of their entries per chunk. Returns how many are new."""
    new = 0
    for start in range(0, len(postings), chunk):
        part = postings[start : start + chunk]
        for posting in part:
            if not posting.entries or sum(amount for _account, amount in posting.entries) != 0:
                raise UnbalancedTransaction(f"{posting.key}: entries {posting.entries} do not balance")
        table = LedgerTransaction.__table__
        inserted = dict(
            db.session.execute(
                insert(table)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(table.c.idempotency_key, table.c.id),
                [
                    {
                        "idempotency_key": p.key,
                        "kind": p.kind,
                        "description": p.description,
                        "occurred_at": p.occurred_at,
                        "created_at": utcnow(),
                        "order_id": p.order_id,
                        "invoice_id": p.invoice_id,
                        "created_by_id": p.created_by_id,
                    }
                    for p in part
                ],
            ).all()
        )
        rows = [
            {
                "transaction_id": inserted[p.key],
                "account_id": account,
                "amount_cents": amount,
                "occurred_at": p.occurred_at,
            }
            for p in part
            if p.key in inserted
            for account, amount in p.entries
            if amount
        ]
        if rows:
            db.session.execute(insert(LedgerEntry.__table__), rows)
        new += len(inserted)
    return new


def account_ids(parties: list[tuple[AccountKind, int]]) -> dict[tuple[str, int], int]:
    """The ledger accounts of many parties at once, keyed by (kind, user id); missing ones are created."""
    wanted = {(str(kind.value if isinstance(kind, AccountKind) else kind), user_id) for kind, user_id in parties}
    found: dict[tuple[str, int], int] = {}
    if wanted:
        rows = db.session.execute(
            select(LedgerAccount.kind, LedgerAccount.user_id, LedgerAccount.id).where(
                tuple_(LedgerAccount.kind, LedgerAccount.user_id).in_(sorted(wanted))
            )
        ).all()
        found = {(str(kind), user_id): account for kind, user_id, account in rows}
    for kind, user_id in wanted - set(found):
        found[(kind, user_id)] = account_id(AccountKind(kind), user_id)
    return found


def balance(account: int, before: datetime | None = None) -> int:
    """The sum of an account's entries (before a moment, if given)."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(LedgerEntry.account_id == account)
    if before is not None:
        query = query.where(LedgerEntry.occurred_at < before)
    return int(db.session.scalar(query))


def unbalanced_transactions() -> list[int]:
    """Ids of transactions whose entries do not sum to zero: always empty (the test invariant)."""
    return list(
        db.session.scalars(
            select(LedgerEntry.transaction_id)
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount_cents) != 0)
        )
    )
