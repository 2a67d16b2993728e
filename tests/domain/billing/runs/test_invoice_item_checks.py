"""The invoice items' references (migration billingperf_0001): checked by the database once per
statement instead of a foreign key per row, with the same refusals (US-220, US-230)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.support.billing_runs import charge
from tests.support.factories import ClientFactory


def _invoice(db, client) -> int:
    return db.session.execute(
        text(
            "INSERT INTO invoices (party_kind, user_id, period_start, period_end, amount_cents, breakdown, status,"
            " provider, attempts, last_error, created_at)"
            " VALUES ('client', :user_id, :start, :end, 100, '{}', 'issued', '', 0, '', now()) RETURNING id"
        ),
        {"user_id": client.id, "start": date(2021, 2, 1), "end": date(2021, 2, 8)},
    ).scalar_one()


def _item(db, invoice_id: int, transaction_id: int) -> None:
    db.session.execute(
        text("INSERT INTO invoice_items (invoice_id, transaction_id) VALUES (:invoice, :transaction)"),
        {"invoice": invoice_id, "transaction": transaction_id},
    )
    db.session.flush()


def test_an_item_must_name_an_invoice_and_a_ledger_transaction(money):
    client = ClientFactory()
    posted = charge(client, 100, datetime(2021, 2, 2, tzinfo=UTC))
    invoice_id = _invoice(money, client)
    money.session.commit()
    with pytest.raises(IntegrityError, match="names no invoice"):
        _item(money, invoice_id + 1000, posted.id)
    money.session.rollback()
    with pytest.raises(IntegrityError, match="names no ledger transaction"):
        _item(money, invoice_id, posted.id + 1000)
    money.session.rollback()
    _item(money, invoice_id, posted.id)
    money.session.commit()
    with pytest.raises(IntegrityError, match="names no ledger transaction"):
        money.session.execute(text("UPDATE invoice_items SET transaction_id = transaction_id + 1000"))
    money.session.rollback()


def test_an_invoice_with_items_cannot_be_deleted(money):
    client = ClientFactory()
    posted = charge(client, 100, datetime(2021, 2, 2, tzinfo=UTC))
    invoice_id = _invoice(money, client)
    _item(money, invoice_id, posted.id)
    money.session.commit()
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        money.session.execute(text("DELETE FROM invoices WHERE id = :id"), {"id": invoice_id})
    money.session.rollback()
    money.session.execute(text("DELETE FROM invoice_items WHERE invoice_id = :id"), {"id": invoice_id})
    money.session.execute(text("DELETE FROM invoices WHERE id = :id"), {"id": invoice_id})
    money.session.commit()
