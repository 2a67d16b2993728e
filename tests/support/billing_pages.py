"""Money for the billing page tests, posted straight into the ledger (no order events, no runs).

Each helper posts one balanced transaction the way the billing services do (see the sign
convention in app/billing/models.py) and returns it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from app.billing.ledger import account_id, post
from app.billing.models import AccountKind, Invoice, InvoiceItem, TransactionKind
from app.extensions import db

A = AccountKind
T = TransactionKind
# A Wednesday (company time zone UTC in tests): the week runs 18-24 Nov 2026, the month is November.
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)


def _post(kind: str, description: str, when: datetime, entries, **references):
    transaction, is_new = post(f"pages-test:{next(_keys)}", kind, description, when, entries, **references)
    assert is_new
    return transaction


def charge(client, cents: int, when: datetime = NOW, order_id: int | None = None, description: str = "Cleaning"):
    return _post(
        T.CHARGE,
        description,
        when,
        [(account_id(A.CLIENT, client.id), cents), (account_id(A.REVENUE), -cents)],
        order_id=order_id,
    )


def payment(client, cents: int, when: datetime = NOW, invoice: Invoice | None = None):
    return _post(
        T.PAYMENT,
        "Payment",
        when,
        [(account_id(A.CASH), cents), (account_id(A.CLIENT, client.id), -cents)],
        invoice_id=invoice.id if invoice else None,
    )


def earning(worker, cents: int, when: datetime = NOW, order_id: int | None = None):
    return _post(
        T.EARNING,
        "60% of an order",
        when,
        [(account_id(A.PAYOUTS), cents), (account_id(A.WORKER, worker.id), -cents)],
        order_id=order_id,
    )


def fine(worker, cents: int = 4000, when: datetime = NOW):
    return _post(
        T.FINE,
        "Fine for a failed order",
        when,
        [(account_id(A.WORKER, worker.id), cents), (account_id(A.FINES), -cents)],
    )


def credit(worker, cents: int, manager, reason: str = "Great work", when: datetime = NOW):
    return _post(
        T.CREDIT,
        f"Credit by {manager.name}: {reason}",
        when,
        [(account_id(A.PAYOUTS), cents), (account_id(A.WORKER, worker.id), -cents)],
        created_by_id=manager.id,
    )


def payout(worker, cents: int, when: datetime = NOW, invoice: Invoice | None = None):
    return _post(
        T.PAYOUT,
        "Payout via Golden Hat",
        when,
        [(account_id(A.WORKER, worker.id), cents), (account_id(A.CASH), -cents)],
        invoice_id=invoice.id if invoice else None,
    )


def invoice(user, party_kind: str, start: date, cents: int, status: str = "issued", covers=(), **values) -> Invoice:
    end = start + (timedelta(days=7) if party_kind == "client" else timedelta(days=30))
    row = Invoice(
        party_kind=party_kind, user_id=user.id, period_start=start, period_end=end, amount_cents=cents, status=status
    )
    for key, value in values.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.flush()
    for transaction in covers:
        db.session.add(InvoiceItem(invoice_id=row.id, transaction_id=transaction.id))
    db.session.flush()
    return row


def days(n: float) -> timedelta:
    return timedelta(days=n)
