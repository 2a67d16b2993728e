"""Helpers for billing ledger tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from app.billing import ledger
from app.billing.models import AccountKind, LedgerEntry, LedgerTransaction
from app.events.models import Event
from app.extensions import db as database
from app.orders import services as orders
from app.orders.models import Order

# Orders are requested on a Monday morning for the Tuesday; they end whenever a test says.
REQUESTED_AT = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)


SLOT = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)


def end_order(outcome: str, at: datetime, client, worker, service, requested_at: datetime = REQUESTED_AT) -> Order:
    """An order taken through the services, ending `outcome` at `at` (worker None: before matching)."""
    with time_machine.travel(requested_at, tick=False):
        order = orders.request_order(client, service_type_id=service.id, description="Tidy up", slot_start=SLOT)
        if worker is not None:
            orders.assign_worker(order, worker)
            orders.issue_kit(order)
            orders.start(order, worker, "checkin.jpg")
    with time_machine.travel(at, tick=False):
        if outcome == "completed":
            orders.complete(order, worker, "report.jpg")
        elif outcome == "cancelled":
            orders.cancel(order, client, "Changed my mind")
        else:
            orders.fail(order, "The worker did not come")
    return order


def last_event(order: Order) -> Event:
    return database.session.scalars(
        select(Event)
        .where(Event.aggregate_type == "order", Event.aggregate_id == str(order.id))
        .order_by(Event.id.desc())
    ).first()


def transactions_of(order: Order) -> dict[str, LedgerTransaction]:
    rows = database.session.scalars(select(LedgerTransaction).where(LedgerTransaction.order_id == order.id))
    return {row.kind: row for row in rows}


def entries_by_account(transaction: LedgerTransaction) -> dict[tuple[str, int | None], int]:
    return {(entry.account.kind, entry.account.user_id): entry.amount_cents for entry in transaction.entries}


def balance_of(kind: AccountKind, user_id: int | None = None) -> int:
    return ledger.balance(ledger.account_id(kind, user_id))


def entry_count() -> int:
    return len(database.session.scalars(select(LedgerEntry.id)).all())
