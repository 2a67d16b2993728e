"""The database holds the ledger's promises whatever code writes to it: entries and transactions
are never updated or deleted, and a transaction whose entries do not sum to zero cannot commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.billing import ledger
from app.billing.models import AccountKind, TransactionKind

AT = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


def a_posting(key: str = "test:payment"):
    cash = ledger.account_id(AccountKind.CASH)
    revenue = ledger.account_id(AccountKind.REVENUE)
    transaction, _ = ledger.post(key, TransactionKind.CHARGE, "A test posting", AT, [(cash, 5_00), (revenue, -5_00)])
    return transaction


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_cents = amount_cents * 2 WHERE transaction_id = :id",
        "DELETE FROM ledger_entries WHERE transaction_id = :id",
        "UPDATE ledger_transactions SET description = 'rewritten' WHERE id = :id",
        "DELETE FROM ledger_transactions WHERE id = :id",
    ],
)
def test_the_database_refuses_to_update_or_delete_ledger_rows(db, statement):
    transaction = a_posting()
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text(statement), {"id": transaction.id})
    assert ledger.balance(ledger.account_id(AccountKind.CASH)) == 5_00


def test_an_unbalanced_transaction_is_refused_at_commit_time(db):
    transaction = a_posting()
    cash = ledger.account_id(AccountKind.CASH)
    with pytest.raises(DBAPIError, match="does not balance"):
        with db.session.begin_nested():
            db.session.execute(
                text(
                    "INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, occurred_at) "
                    "VALUES (:id, :account, 1, :at)"
                ),
                {"id": transaction.id, "account": cash, "at": AT},
            )
            # The balance check is deferred to COMMIT; in a rolled-back test, ask for it now.
            db.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    db.session.execute(text("SET CONSTRAINTS ALL DEFERRED"))


def test_an_unbalanced_transaction_cannot_be_committed_for_real(committed_db):
    session = committed_db.session
    cash = ledger.account_id(AccountKind.CASH)
    session.commit()
    session.execute(
        text(
            "INSERT INTO ledger_transactions (idempotency_key, kind, description, occurred_at, created_at) "
            "VALUES ('test:lonely', 'charge', 'One-legged', :at, :at)"
        ),
        {"at": AT},
    )
    session.execute(
        text(
            "INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, occurred_at) "
            "SELECT id, :account, 7, :at FROM ledger_transactions WHERE idempotency_key = 'test:lonely'"
        ),
        {"account": cash, "at": AT},
    )
    with pytest.raises(DBAPIError, match="does not balance"):
        session.commit()
    session.rollback()
    assert session.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 0


def test_post_refuses_unbalanced_or_empty_entries_before_the_database_sees_them(db):
    cash = ledger.account_id(AccountKind.CASH)
    with pytest.raises(ledger.UnbalancedTransaction):
        ledger.post("test:bad", TransactionKind.CHARGE, "Bad", AT, [(cash, 1)])
    with pytest.raises(ledger.UnbalancedTransaction):
        ledger.post("test:empty", TransactionKind.CHARGE, "Empty", AT, [(cash, 0)])
