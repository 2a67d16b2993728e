"""Issue 13 point 2 (US-220, US-230): one party's billing event that keeps failing parks that party
only. The day closes, everyone else is invoiced and paid, the parked party is listed with the error;
a retry that goes through bills it on the invoice of its period, and the ledger stays balanced."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import select

from app.billing import overview
from app.billing.models import BillingRun, DayClose, Invoice, InvoiceStatus, ParkedParty, TransactionKind
from app.billing.postings import post_order_outcome
from app.billing.processes import close, parked, runs
from app.events.registry import consumers
from app.extensions import db as database
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.ledger import end_order, transactions_of


def _run(kind: str, now: datetime) -> BillingRun:
    run = BillingRun(kind=kind, status="running", summary={})
    database.session.add(run)
    database.session.commit()
    with time_machine.travel(now, tick=False):
        return runs.execute(run.id, now)


def _invoices(party_kind: str) -> dict[int, Invoice]:
    rows = database.session.scalars(select(Invoice).where(Invoice.party_kind == party_kind))
    return {invoice.user_id: invoice for invoice in rows}


def test_a_failing_party_is_parked_everyone_else_is_billed_and_a_retry_bills_it(
    client_user, worker, service, monkeypatch
):
    other_client, other_worker = ClientFactory(name="Bea Broken"), WorkerFactory(name="Walt Waiting")
    good = end_order("completed", datetime(2026, 10, 21, 9, 0, tzinfo=UTC), client_user, worker, service)
    bad = end_order("completed", datetime(2026, 10, 21, 10, 0, tzinfo=UTC), other_client, other_worker, service)

    def broken_for_one(event):
        if event.payload["order_id"] == bad.id:
            raise RuntimeError("tax service refused the address")
        post_order_outcome(event)

    handlers = consumers["billing"].handlers
    monkeypatch.setitem(handlers, "order.completed", broken_for_one)

    # The week of 19 October ends; the close does not stop at the failing event.
    with time_machine.travel(datetime(2026, 10, 27, 1, 0, tzinfo=UTC), tick=False):
        closed = close.close_due_days()
    assert date(2026, 10, 21) in closed and database.session.get(DayClose, date(2026, 10, 26)) is not None
    parks = database.session.scalars(select(ParkedParty).order_by(ParkedParty.party_kind)).all()
    assert [(p.party_kind, p.user_id, p.order_id, p.day) for p in parks] == [
        ("client", other_client.id, bad.id, date(2026, 10, 21)),
        ("worker", other_worker.id, bad.id, date(2026, 10, 21)),
    ]
    assert all("tax service refused the address" in p.error for p in parks)
    assert transactions_of(bad) == {} and set(transactions_of(good)) == {
        TransactionKind.CHARGE,
        TransactionKind.EARNING,
    }

    weekly = _run(runs.WEEKLY_CLIENTS, datetime(2026, 10, 27, 1, 0, tzinfo=UTC))
    clients = _invoices("client")
    assert set(clients) == {client_user.id}, "everyone else is invoiced; the parked client is not"
    assert clients[client_user.id].status == InvoiceStatus.PAID and clients[client_user.id].amount_cents == 100_00
    assert weekly.summary["parked"] == 1

    with time_machine.travel(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), tick=False):
        close.close_due_days()
    monthly = _run(runs.MONTHLY_WORKERS, datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    assert set(_invoices("worker")) == {worker.id} and monthly.summary["parked"] == 1

    shown = overview.parked_parties()
    assert [(p.user.name, p.party_kind) for p in shown] == [("Bea Broken", "client"), ("Walt Waiting", "worker")]

    # Still broken: the retry keeps the party parked, with the new error.
    monkeypatch.setitem(handlers, "order.completed", lambda event: (_ for _ in ()).throw(ValueError("still down")))
    assert runs.retry_parked(parks[0].id, datetime(2026, 11, 2, 2, 0, tzinfo=UTC)) is False
    database.session.expire_all()
    assert "still down" in database.session.get(ParkedParty, parks[0].id).error
    assert set(_invoices("client")) == {client_user.id}

    monkeypatch.setitem(handlers, "order.completed", post_order_outcome)
    assert runs.retry_parked(parks[0].id, datetime(2026, 11, 2, 2, 0, tzinfo=UTC)) is True
    database.session.expire_all()
    assert set(transactions_of(bad)) == {TransactionKind.CHARGE, TransactionKind.EARNING}
    clients, workers = _invoices("client"), _invoices("worker")
    late = clients[other_client.id]
    assert (late.period_start, late.amount_cents, late.status) == (date(2026, 10, 19), 100_00, InvoiceStatus.PAID)
    paid_worker = workers[other_worker.id]
    assert (paid_worker.period_start, paid_worker.amount_cents, paid_worker.status) == (
        date(2026, 10, 1),
        60_00,
        InvoiceStatus.PAID,
    )
    assert overview.parked_parties() == []
    assert all(p.billed_at is not None for p in database.session.scalars(select(ParkedParty)))

    # Nothing is billed twice: the next runs find nothing more for them.
    _run(runs.WEEKLY_CLIENTS, datetime(2026, 11, 3, 1, 0, tzinfo=UTC))
    assert len(database.session.scalars(select(Invoice).where(Invoice.user_id == other_client.id)).all()) == 1
    assert parked.to_bill("client") == [] and parked.to_bill("worker") == []


def test_a_party_whose_event_is_posted_by_the_event_queue_is_billed_at_the_next_run(
    client_user, worker, service, monkeypatch
):
    order = end_order("completed", datetime(2026, 10, 21, 9, 0, tzinfo=UTC), client_user, worker, service)
    handlers = consumers["billing"].handlers
    monkeypatch.setitem(handlers, "order.completed", lambda event: (_ for _ in ()).throw(RuntimeError("down")))
    with time_machine.travel(datetime(2026, 10, 27, 1, 0, tzinfo=UTC), tick=False):
        close.close_due_days()
    _run(runs.WEEKLY_CLIENTS, datetime(2026, 10, 27, 1, 0, tzinfo=UTC))
    assert _invoices("client") == {}
    monkeypatch.setitem(handlers, "order.completed", post_order_outcome)
    from app.events.jobs import deliver  # the event queue's own retry, later

    with time_machine.travel(datetime(2026, 10, 28, 1, 0, tzinfo=UTC), tick=False):
        deliver("billing", "order", str(order.id))
        assert runs.has_work(runs.WEEKLY_CLIENTS, datetime(2026, 10, 28, 1, 0, tzinfo=UTC))
    _run(runs.WEEKLY_CLIENTS, datetime(2026, 10, 28, 1, 0, tzinfo=UTC))
    invoice = _invoices("client")[client_user.id]
    assert (invoice.period_start, invoice.amount_cents, invoice.status) == (date(2026, 10, 19), 100_00, "paid")
