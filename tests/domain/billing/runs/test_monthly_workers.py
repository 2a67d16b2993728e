"""US-230 / US-240 / US-270 / US-304: monthly worker invoices on the month's last day at MONTHLY_RUN_AT
(company time zone, DST), the negative month carrying its debt, payouts through Golden Hat (the sandbox),
the worker emailed only when paid, and the manual adapter."""

from __future__ import annotations

from datetime import date, timedelta

from app.billing import providers
from app.billing.models import AccountKind, InvoiceStatus, TransactionKind
from app.billing.processes import payments, runs
from app.extensions import db
from tests.support.billing_runs import (
    balance,
    bill,
    charge,
    credit,
    earning,
    fine,
    invoices,
    mail,
    payments_count,
    sandbox_count,
)
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory

MONTHLY = runs.MONTHLY_WORKERS


def test_us230_month_is_billed_on_its_last_day_at_the_cutoff_berlin_with_dst(money, zone):
    """October 2024 in Berlin has a 25-hour day (27 Oct); its run is on the 31st at 18:00 local time
    (17:00 UTC, CET). What ends after the cutoff is November's. (Before issue 12 the run waited for
    1 November 00:00; the cutoff replaced that promise.)"""
    local = zone("Europe/Berlin")
    worker = WorkerFactory()
    earning(worker, 60_00, local(2024, 9, 30, 18, 30))  # after September's cutoff: October's
    earning(worker, 30_00, local(2024, 10, 27, 2, 30))  # the repeated hour
    earning(worker, 12_00, local(2024, 10, 31, 17, 59))  # 16:59 UTC
    earning(worker, 99_00, local(2024, 10, 31, 18, 0))  # at the cutoff: November's
    fine(worker, 40_00, local(2024, 10, 15, 12))
    credit(worker, 5_00, local(2024, 10, 20, 12))
    money.session.commit()

    bill(MONTHLY, local(2024, 10, 31, 17, 59))
    assert invoices() == []
    run = bill(MONTHLY, local(2024, 10, 31, 18, 0, 1))
    assert run.summary["invoices"] == 1
    (invoice,) = invoices()
    assert (invoice.period_start, invoice.period_end) == (date(2024, 10, 1), date(2024, 11, 1))
    assert {key: invoice.breakdown[key] for key in ("earnings", "fines", "credits", "carried_in")} == {
        "earnings": 102_00,
        "fines": 40_00,
        "credits": 5_00,
        "carried_in": 0,
    }
    assert invoice.amount_cents == 67_00 and invoice.status == InvoiceStatus.PAID
    assert payments_count(TransactionKind.PAYOUT) == 1 and sandbox_count() == 1
    assert balance(AccountKind.WORKER, worker) == -99_00, "what ended after the cutoff is still owed"
    assert mail(worker) == ["invoice_paid"], "the worker hears only of a paid invoice (US-304)"


def test_us230_negative_month_pays_nothing_and_carries_the_debt(money, zone):
    local = zone("America/New_York")
    worker = WorkerFactory()
    earning(worker, 30_00, local(2024, 1, 10))
    fine(worker, 40_00, local(2024, 1, 11))
    fine(worker, 40_00, local(2024, 1, 12))
    money.session.commit()
    bill(MONTHLY, local(2024, 2, 1, 0, 1))
    (january,) = invoices()
    assert (january.amount_cents, january.status) == (0, InvoiceStatus.NOTHING_DUE)
    assert january.breakdown["net"] == -50_00 and january.breakdown["carried_out"] == -50_00
    assert payments_count(TransactionKind.PAYOUT) == 0 and sandbox_count() == 0 and mail(worker) == []

    earning(worker, 20_00, local(2024, 2, 5))  # still 30 short
    db.session.commit()
    bill(MONTHLY, local(2024, 3, 1, 0, 1))  # February: a 29-day month
    february = invoices()[-1]
    assert (february.period_start, february.amount_cents, february.status) == (date(2024, 2, 1), 0, "nothing_due")
    assert february.breakdown["carried_in"] == -50_00 and february.breakdown["carried_out"] == -30_00

    earning(worker, 100_00, local(2024, 3, 31, 17, 59))  # the DST change was on 10 March
    db.session.commit()
    bill(MONTHLY, local(2024, 4, 1, 0, 1))
    march = invoices()[-1]
    assert (march.amount_cents, march.breakdown["carried_in"], march.status) == (70_00, -30_00, "paid")
    assert mail(worker) == ["invoice_paid"]
    assert balance(AccountKind.WORKER, worker) == 0

    bill(MONTHLY, local(2024, 5, 1, 0, 1))  # nothing earned, nothing carried: no invoice
    assert len(invoices()) == 3


def test_us230_failing_payout_is_not_paid_twice_by_the_next_month(money, zone, app):
    """The carry comes from the invoices, not the balance: an unpaid month is not billed again."""
    local = zone("UTC")
    worker = WorkerFactory()
    earning(worker, 50_00, local(2024, 1, 10))
    providers.set_sandbox([worker.id], 0)
    money.session.commit()
    bill(MONTHLY, local(2024, 2, 1, 0, 1))
    assert invoices()[0].status == InvoiceStatus.FAILED
    earning(worker, 20_00, local(2024, 2, 10))
    db.session.commit()
    bill(MONTHLY, local(2024, 3, 1, 0, 1))  # January is still failing when February is billed
    assert [i.amount_cents for i in invoices()] == [50_00, 20_00]
    assert mail(worker) == [], "no email for a failed payout"
    providers.set_sandbox([], 0)
    db.session.commit()
    bill(runs.PAYMENT_RETRIES, local(2024, 3, 10))
    assert [i.status for i in invoices()] == ["paid", "paid"]
    assert payments_count(TransactionKind.PAYOUT) == 2 and balance(AccountKind.WORKER, worker) == 0
    assert mail(worker) == ["invoice_paid", "invoice_paid"]


def test_us230_late_earning_goes_on_the_next_month(money, zone):
    local = zone("UTC")
    worker = WorkerFactory()
    earning(worker, 10_00, local(2024, 1, 10))
    money.session.commit()
    bill(MONTHLY, local(2024, 2, 1, 0, 1))
    earning(worker, 7_00, local(2024, 1, 31, 12))  # posted after January was billed
    earning(worker, 1_00, local(2024, 2, 2))
    db.session.commit()
    bill(MONTHLY, local(2024, 3, 1, 0, 1))
    february = invoices()[-1]
    assert (february.amount_cents, february.breakdown["late"], february.breakdown["earnings"]) == (8_00, 1, 8_00)
    assert balance(AccountKind.WORKER, worker) == 0


def test_us230_workers_and_clients_are_billed_apart(money, zone):
    local = zone("UTC")
    worker, client = WorkerFactory(), ClientFactory()
    earning(worker, 6_00, local(2024, 1, 10))
    charge(client, 10_00, local(2024, 1, 10))
    money.session.commit()
    bill(MONTHLY, local(2024, 2, 1, 0, 1))
    assert [(i.party_kind, i.user_id) for i in invoices()] == [("worker", worker.id)]
    bill(runs.WEEKLY_CLIENTS, local(2024, 2, 1, 0, 1))
    assert {(i.party_kind, i.user_id) for i in invoices()} == {("worker", worker.id), ("client", client.id)}


def test_us230_manual_payout(money, zone, app, monkeypatch):
    monkeypatch.setitem(app.config, "WORKER_PAYOUT_PROVIDER", "manual")
    local = zone("UTC")
    worker, manager = WorkerFactory(), ManagerFactory()
    earning(worker, 33_00, local(2024, 1, 10))
    money.session.commit()
    bill(MONTHLY, local(2024, 2, 1, 0, 1))
    (invoice,) = invoices()
    assert invoice.status == InvoiceStatus.AWAITING_MANUAL and sandbox_count() == 0 and mail(worker) == []
    payments.mark_paid_manually(invoice, manager, now=local(2024, 2, 2))
    db.session.commit()
    assert invoices()[0].status == InvoiceStatus.PAID and mail(worker) == ["invoice_paid"]
    assert payments_count(TransactionKind.PAYOUT) == 1 and balance(AccountKind.WORKER, worker) == 0


def test_us230_retry_schedule_applies_to_payouts(money, zone):
    local = zone("UTC")
    worker = WorkerFactory()
    earning(worker, 10_00, local(2024, 1, 10))
    providers.set_sandbox([worker.id], 0)
    money.session.commit()
    now = local(2024, 2, 1, 0, 1)
    bill(MONTHLY, now)
    assert invoices()[0].next_attempt_at == now + timedelta(hours=24)
