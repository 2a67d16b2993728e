"""US-220, US-230 at scale: a run's provider calls are concurrent (at most BILLING_CONCURRENCY at once)
and batched (BILLING_BATCH_SIZE invoices per transaction), and the payment protocol still holds:
at most one charge per invoice, keys committed before the call, a crashed call leaves its attempt
pending for the next run, two runs at once bill and charge once, each person's mail in order."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.billing import providers
from app.billing.models import AccountKind, Invoice, InvoiceStatus, PaymentAttempt, TransactionKind
from app.billing.processes import runs
from app.extensions import db
from app.notifications.models import OutboxEmail
from app.notifications.services import queue_email, queue_emails
from tests.support.billing_runs import (
    attempts_count,
    balance,
    bill,
    charge,
    count,
    earning,
    invoices,
    mail,
    payments_count,
    run_twice_at_once,
    sandbox_count,
)
from tests.support.factories import ClientFactory, WorkerFactory


@pytest.fixture
def in_flight(monkeypatch):
    """Watch the sandbox's calls: the most that were in flight at once, and a hook per call."""
    state = {"now": 0, "most": 0, "calls": 0, "before": None}
    lock = threading.Lock()
    real = providers.SandboxProvider._call

    def watched(self, operation, key, user_id, amount_cents):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            if state["before"] is not None:
                state["before"](key, user_id)
            return real(self, operation, key, user_id, amount_cents)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(providers.SandboxProvider, "_call", watched)
    return state


def _configure(app, monkeypatch, *, concurrency: int, batch: int, delay: float) -> None:
    monkeypatch.setitem(app.config, "BILLING_CONCURRENCY", concurrency)
    monkeypatch.setitem(app.config, "BILLING_BATCH_SIZE", batch)
    monkeypatch.setitem(app.config, "SANDBOX_DELAY_SECONDS", delay)


def test_us220_charges_run_concurrently_within_the_bound_and_once_each(money, zone, app, monkeypatch, in_flight):
    local = zone("UTC")
    clients = [ClientFactory() for _ in range(30)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 1_00, local(2024, 1, 3))
    money.session.commit()
    _configure(app, monkeypatch, concurrency=5, batch=7, delay=0.1)

    run = bill(runs.WEEKLY_CLIENTS, local(2024, 1, 8, 1))

    assert run.status == "done" and run.summary["paid"] == 30 and run.done == run.total
    assert 1 < in_flight["most"] <= 5, in_flight
    assert in_flight["calls"] == sandbox_count() == attempts_count() == payments_count() == 30
    assert all(i.status == InvoiceStatus.PAID and i.attempts == 1 for i in invoices())
    assert all(balance(AccountKind.CLIENT, client) == 0 for client in clients)
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


def test_us230_payouts_run_concurrently_and_a_declined_one_is_retried_later(money, zone, app, monkeypatch, in_flight):
    local = zone("UTC")
    workers = [WorkerFactory() for _ in range(12)]
    for worker in workers:
        earning(worker, 20_00, local(2024, 1, 10))
    providers.set_sandbox([workers[3].id], 0)
    money.session.commit()
    _configure(app, monkeypatch, concurrency=4, batch=5, delay=0.05)

    run = bill(runs.MONTHLY_WORKERS, local(2024, 2, 1, 1))

    assert run.summary["paid"] == 11 and run.summary["failed"] == 1
    assert 1 < in_flight["most"] <= 4
    assert payments_count(TransactionKind.PAYOUT) == 11
    failed = invoices(user=workers[3])[0]
    assert failed.status == InvoiceStatus.FAILED and "set to fail" in failed.last_error
    assert mail(workers[3]) == [] and all(
        mail(worker) == ["invoice_paid"] for worker in workers if worker != workers[3]
    )


def test_us220_a_crashed_call_leaves_its_attempt_pending_and_the_others_are_recorded(
    money, zone, app, monkeypatch, in_flight
):
    """A call that raises (a network error, not a decline) fails the run after the other answers
    are recorded; its committed attempt is repeated, with the same key, by the next run."""
    local = zone("UTC")
    clients = [ClientFactory() for _ in range(8)]
    for client in clients:
        charge(client, 12_00, local(2024, 1, 3))
    money.session.commit()
    _configure(app, monkeypatch, concurrency=3, batch=3, delay=0)
    unlucky = clients[5].id

    def network_error(key, user_id):
        if user_id == unlucky:
            raise ConnectionError("the provider hung up")

    in_flight["before"] = network_error
    with pytest.raises(ConnectionError):
        bill(runs.WEEKLY_CLIENTS, local(2024, 1, 8, 1))
    assert payments_count() == 7 and sandbox_count() == 7
    (pending,) = db.session.scalars(select(PaymentAttempt).where(PaymentAttempt.status == "pending")).all()
    assert db.session.get(Invoice, pending.invoice_id).user_id == unlucky
    key = pending.idempotency_key

    in_flight["before"] = None
    run = bill(runs.WEEKLY_CLIENTS, local(2024, 1, 8, 1))
    assert run.status == "done"
    assert payments_count() == 8 and sandbox_count() == 8 and attempts_count() == 8
    assert db.session.get(PaymentAttempt, pending.id).status == "succeeded"
    assert db.session.get(PaymentAttempt, pending.id).idempotency_key == key
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


def test_us220_us230_two_concurrent_runs_with_slow_answers_charge_once(money, zone, app, monkeypatch, in_flight):
    local = zone("UTC")
    clients = [ClientFactory() for _ in range(20)]
    workers = [WorkerFactory() for _ in range(6)]
    for client in clients:
        charge(client, 5_00, local(2024, 1, 3))
    for worker in workers:
        earning(worker, 3_00, local(2024, 1, 3))
    money.session.commit()
    _configure(app, monkeypatch, concurrency=6, batch=4, delay=0.05)
    now = local(2024, 2, 1, 1)
    bill(runs.DAILY_CLOSE, now)
    run_twice_at_once(app, now, 120)
    assert count(Invoice) == 26 and sandbox_count() == 26 and attempts_count() == 26
    assert payments_count() == 20 and payments_count(TransactionKind.PAYOUT) == 6
    assert all(i.status == InvoiceStatus.PAID and i.attempts == 1 for i in invoices())
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


def test_us304_queue_emails_keeps_each_persons_sequence_and_each_key_once(money, app):
    with app.test_request_context():
        first = queue_email("Ann@Example.com", "invoice_paid", _context(1), idempotency_key="one")
        written = queue_emails(
            [
                ("ann@example.com", "invoice_issued", _context(2), "two"),
                ("bob@example.com", "invoice_issued", _context(3), "three"),
                ("ann@example.com", "payment_succeeded", _context(2), "four"),
                ("ann@example.com", "payment_succeeded", _context(2), "one"),  # queued already
            ]
        )
        db.session.commit()
        again = queue_emails([("ann@example.com", "invoice_issued", _context(2), "two")])
        db.session.commit()
    assert (first.sequence, written, again) == (1, 3, 0)
    rows = db.session.execute(
        select(OutboxEmail.recipient, OutboxEmail.sequence, OutboxEmail.idempotency_key, OutboxEmail.subject).order_by(
            OutboxEmail.recipient, OutboxEmail.sequence
        )
    ).all()
    assert [(r.recipient, r.sequence, r.idempotency_key) for r in rows] == [
        ("ann@example.com", 1, "one"),
        ("ann@example.com", 2, "two"),
        ("ann@example.com", 3, "four"),
        ("bob@example.com", 1, "three"),
    ]
    assert all(row.subject for row in rows)  # rendered when queued


def _context(invoice_id: int) -> dict:
    return {
        "name": "Ann",
        "invoice_id": invoice_id,
        "period": "week 01 Jan - 07 Jan 2024",
        "amount_cents": 10_00,
        "breakdown": {"charges": 10_00, "items": 1, "orders": 1, "late": 0},
        "billing_link": "http://localhost/billing",
    }
