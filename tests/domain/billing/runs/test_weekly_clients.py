"""US-220 / US-304: weekly client invoices on Sunday at WEEKLY_RUN_AT (company time zone, DST), catch-up,
late charges, idempotency, failure and retry with the sandbox, and the manual adapter."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.billing import providers
from app.billing.models import AccountKind, Invoice, InvoiceItem, InvoiceStatus, PaymentAttempt, TransactionKind
from app.billing.processes import payments, runs
from app.extensions import db
from app.platform.validation import ValidationError
from tests.support.billing_runs import (
    attempts_count,
    balance,
    bill,
    charge,
    count,
    invoices,
    mail,
    payments_count,
    sandbox_count,
)
from tests.support.factories import ClientFactory, ManagerFactory

WEEKLY = runs.WEEKLY_CLIENTS


def test_us220_week_is_billed_on_sunday_at_the_cutoff_new_york_across_dst(money, zone):
    """The week of the US spring-forward (Sun 10 Mar 2024) is billed on that Sunday at 18:00 local time
    (22:00 UTC, EDT); what ends after the cutoff goes on next week's invoice. (Before issue 12 the
    run waited for Monday 00:00; the cutoff replaced that promise.)"""
    local = zone("America/New_York")
    client = ClientFactory()
    before_cutoff = charge(client, 12_50, local(2024, 3, 10, 17, 59))  # 21:59 UTC, after the change
    charge(client, 7_00, local(2024, 3, 4, 0, 5))  # the week's first minutes (still EST)
    charge(client, 30_00, local(2024, 3, 10, 18, 0))  # at the cutoff: next week
    charge(client, 99_00, local(2024, 3, 11, 0, 10))  # next week
    money.session.commit()

    bill(WEEKLY, local(2024, 3, 10, 17, 59))
    assert invoices() == [], "Sunday's cutoff has not come yet"

    bill(WEEKLY, local(2024, 3, 10, 18, 0, 1))
    (invoice,) = invoices()
    assert (invoice.period_start, invoice.period_end) == (date(2024, 3, 4), date(2024, 3, 11))
    assert invoice.amount_cents == 19_50
    assert invoice.breakdown["charges"] == 19_50 and invoice.breakdown["items"] == 2
    assert invoice.status == InvoiceStatus.PAID and invoice.provider == "sandbox"
    covered = set(db.session.scalars(InvoiceItem.__table__.select().with_only_columns(InvoiceItem.transaction_id)))
    assert before_cutoff.id in covered and len(covered) == 2
    assert payments_count() == 1 and sandbox_count() == 1
    assert balance(AccountKind.CLIENT, client) == 129_00, "what ended after the cutoff is still owed"
    assert mail(client) == ["invoice_issued", "payment_succeeded"]


def test_us220_catch_up_bills_every_missed_week_once_and_late_charges_go_on_the_next(money, zone):
    local = zone("Europe/Berlin")
    alice, bob = ClientFactory(), ClientFactory()
    # Three weeks: Mon 21 Oct, Mon 28 Oct (the autumn DST change is Sun 27 Oct 2024), Mon 4 Nov.
    charge(alice, 10_00, local(2024, 10, 21, 9))
    charge(alice, 20_00, local(2024, 10, 27, 17, 30))
    charge(bob, 5_00, local(2024, 10, 29, 12))
    charge(alice, 40_00, local(2024, 11, 10, 17, 59))
    money.session.commit()

    run = bill(WEEKLY, local(2024, 11, 11, 0, 1))  # three weeks missed: all billed now
    assert run.status == "done" and run.summary["invoices"] == 3 and run.done == run.total
    got = [(i.user_id, i.period_start, i.amount_cents, i.status) for i in invoices()]
    assert got == [
        (alice.id, date(2024, 10, 21), 30_00, "paid"),  # Sunday 17:30 on the DST day is still that week
        (alice.id, date(2024, 11, 4), 40_00, "paid"),
        (bob.id, date(2024, 10, 28), 5_00, "paid"),
    ]

    # A charge for a billed week, posted late: it goes on the next week's invoice, never lost.
    charge(bob, 3_00, local(2024, 10, 30, 8))
    charge(bob, 4_00, local(2024, 11, 12, 8))
    money.session.commit()
    bill(WEEKLY, local(2024, 11, 14))  # nothing new: the week of 11 Nov has not reached its cutoff
    assert len(invoices()) == 3
    bill(WEEKLY, local(2024, 11, 17, 18, 0, 1))
    latest = invoices(user=bob)[-1]
    assert (latest.period_start, latest.amount_cents, latest.breakdown["late"]) == (date(2024, 11, 11), 7_00, 1)
    assert count(Invoice) == 4 and payments_count() == 4 and sandbox_count() == 4
    assert balance(AccountKind.CLIENT, alice) == 0 and balance(AccountKind.CLIENT, bob) == 0


def test_us220_the_same_run_twice_bills_and_charges_once(money, zone):
    local = zone("UTC")
    clients = [ClientFactory() for _ in range(3)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 10_00, local(2024, 5, 8, 12))
    money.session.commit()
    now = local(2024, 5, 13, 1)
    bill(WEEKLY, now)
    second = bill(WEEKLY, now)
    assert second.summary == {"periods": [], "invoices": 0}
    assert [i.amount_cents for i in invoices()] == [10_00, 20_00, 30_00]
    assert payments_count() == 3 and sandbox_count() == 3 and attempts_count() == 3
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


def test_us220_us304_failed_charge_is_retried_on_schedule_and_the_client_told_each_time(money, zone, app):
    local = zone("America/New_York")
    client, other = ClientFactory(), ClientFactory()
    charge(client, 25_00, local(2024, 3, 6, 10))
    charge(other, 5_00, local(2024, 3, 6, 10))
    providers.set_sandbox([client.id], 0)
    money.session.commit()

    now = local(2024, 3, 11, 0, 5)
    bill(WEEKLY, now)
    (invoice,) = invoices(user=client)
    assert invoice.status == InvoiceStatus.FAILED and invoice.attempts == 1
    assert invoice.next_attempt_at == now + timedelta(hours=24)
    assert "sandbox" in invoice.last_error
    assert invoices(user=other)[0].status == InvoiceStatus.PAID
    assert mail(client) == ["invoice_issued", "payment_failed"]

    retry = bill(runs.PAYMENT_RETRIES, now + timedelta(hours=23))
    assert retry.summary == {} and invoices(user=client)[0].attempts == 1, "not due yet"

    bill(runs.PAYMENT_RETRIES, now + timedelta(hours=24, minutes=1))  # still failing: the second attempt
    assert invoices(user=client)[0].next_attempt_at == now + timedelta(hours=24, minutes=1) + timedelta(hours=72)

    providers.set_sandbox([], 0)
    db.session.commit()
    later = now + timedelta(hours=24 + 73)
    bill(runs.PAYMENT_RETRIES, later)
    (invoice,) = invoices(user=client)
    assert invoice.status == InvoiceStatus.PAID and invoice.attempts == 3 and invoice.paid_at == later
    assert invoice.next_attempt_at is None and invoice.last_error == ""
    assert mail(client) == ["invoice_issued", "payment_failed", "payment_failed", "payment_succeeded"]
    assert payments_count() == 2 and sandbox_count() == 4 and attempts_count() == 4
    assert balance(AccountKind.CLIENT, client) == 0


def test_us304_retries_run_out(money, zone, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENT_RETRY_HOURS", "1,2")
    local = zone("UTC")
    client = ClientFactory()
    charge(client, 9_00, local(2024, 1, 3))
    providers.set_sandbox([client.id], 0)
    money.session.commit()
    now = local(2024, 1, 8, 0, 1)
    bill(WEEKLY, now)
    bill(runs.PAYMENT_RETRIES, now + timedelta(hours=1))
    bill(runs.PAYMENT_RETRIES, now + timedelta(hours=3))
    bill(runs.PAYMENT_RETRIES, now + timedelta(days=30))  # no further attempt is scheduled
    (invoice,) = invoices()
    assert invoice.status == InvoiceStatus.FAILED and invoice.attempts == 3 and invoice.next_attempt_at is None
    assert mail(client) == ["invoice_issued"] + ["payment_failed"] * 3
    db.session.rollback()
    from app.notifications.models import OutboxEmail

    last = db.session.scalars(OutboxEmail.__table__.select().with_only_columns(OutboxEmail.body_text)).all()[-1]
    assert "will not try again" in last
    assert payments_count() == 0 and balance(AccountKind.CLIENT, client) == 9_00


def test_us220_manual_adapter_waits_for_a_manager(money, zone, app, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_PAYMENT_PROVIDER", "card=sandbox,bank_transfer=manual")
    local = zone("UTC")
    card, transfer = ClientFactory(), ClientFactory()
    transfer.client_profile.payment_method = "bank_transfer"
    manager = ManagerFactory()
    charge(card, 10_00, local(2024, 1, 3))
    charge(transfer, 20_00, local(2024, 1, 3))
    money.session.commit()
    bill(WEEKLY, local(2024, 1, 8, 1))
    waiting = invoices(user=transfer)[0]
    assert waiting.status == InvoiceStatus.AWAITING_MANUAL and waiting.provider == "manual"
    assert invoices(user=card)[0].status == InvoiceStatus.PAID
    assert sandbox_count() == 1 and payments_count() == 1
    bill(runs.PAYMENT_RETRIES, local(2024, 2, 1))  # the retries leave it to the manager
    assert invoices(user=transfer)[0].status == InvoiceStatus.AWAITING_MANUAL

    paid = payments.mark_paid_manually(waiting, manager, now=local(2024, 1, 9, 10))
    db.session.commit()
    assert paid.status == InvoiceStatus.PAID and paid.paid_at == local(2024, 1, 9, 10)
    from app.billing.models import LedgerTransaction

    payment = db.session.scalar(
        LedgerTransaction.__table__.select()
        .with_only_columns(LedgerTransaction.created_by_id)
        .where(LedgerTransaction.invoice_id == paid.id)
    )
    assert payment == manager.id
    assert mail(transfer) == ["invoice_issued", "payment_succeeded"]
    with pytest.raises(ValidationError) as refused:
        payments.mark_paid_manually(invoices(user=transfer)[0], manager)
    assert "invoice" in refused.value.errors
    db.session.rollback()
    assert payments_count() == 2 and balance(AccountKind.CLIENT, transfer) == 0


def test_us220_a_manager_cannot_mark_paid_while_an_attempt_is_pending(money, zone):
    local = zone("UTC")
    client, manager = ClientFactory(), ManagerFactory()
    charge(client, 10_00, local(2024, 1, 3))
    money.session.commit()
    now = local(2024, 1, 8, 1)
    bill(runs.DAILY_CLOSE, now)
    (period,) = runs.due_periods("client", now)
    (invoice_id,) = runs.create_invoices("client", period, now)
    calls, _decided = payments.begin_attempts([invoice_id], now)
    assert [call.invoice_id for call in calls] == [invoice_id]
    with pytest.raises(ValidationError):
        payments.mark_paid_manually(db.session.get(Invoice, invoice_id), manager)
    db.session.rollback()
    assert count(PaymentAttempt, PaymentAttempt.status == "pending") == 1


def test_us220_zero_charges_make_no_invoice(money, zone):
    local = zone("UTC")
    ClientFactory()
    money.session.commit()
    run = bill(WEEKLY, local(2024, 1, 8, 1))
    assert run.summary == {"periods": [], "invoices": 0} and invoices() == []
    assert payments_count(TransactionKind.PAYMENT) == 0
