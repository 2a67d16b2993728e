"""`flask demo load`: weeks of history for billing, once; and after the billing
consumer has posted it and the runs have billed it, the demo client and worker see their money.

The demo is relative to the real clock, so these tests run at today's date: whatever the day, the
history covers at least five whole weeks and the whole previous month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.accounts.services import find_user_by_email
from app.billing import ledger
from app.billing.models import (
    AccountKind,
    Invoice,
    InvoiceStatus,
    LedgerTransaction,
    TransactionKind,
)
from app.billing.periods import local_day, month_of, week_cutoff, week_of
from app.billing.processes import runs
from app.billing.processes.close import close_due_days
from app.billing.providers import sandbox_settings, set_sandbox
from app.demo.data import CLIENTS, CREDITS, FAILING_CLIENT, WORKERS
from app.events.models import Event, HandledEvent
from app.extensions import db as database
from app.orders.models import Order
from app.platform.clock import utcnow
from tests.support.web import config_values

BILLING_EVENTS = ("order.completed", "order.cancelled", "order.failed")
DAY = timedelta(days=1)


@pytest.fixture
def demo(app, db, tmp_path):
    """The demo, loaded on the empty test database (photos in a temporary folder)."""
    with config_values(app, UPLOAD_DIR=str(tmp_path)):
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        assert "demo data loaded" in result.output
        yield app


def _counts() -> tuple[int, ...]:
    database.session.expire_all()
    return tuple(
        database.session.scalar(select(func.count()).select_from(model))
        for model in (Order, Event, LedgerTransaction, HandledEvent)
    )


def _user(email: str):
    return find_user_by_email(email)


def test_issue4_us220_us270_demo_has_weeks_of_history_credits_a_failing_client_and_loads_once(demo, db):
    """Item 11: finished orders in each of the last five whole weeks and on the previous month's days,
    completed, cancelled and failed across the demo's clients and workers; the manager's credits; a
    client the sandbox declines; the history left for the billing consumer; a second load adds nothing."""
    today = local_day(utcnow())
    this_week, this_month = week_of(today), month_of(today)
    previous_month = month_of(this_month.start - timedelta(days=1))
    finished = database.session.scalars(
        select(Order).where(Order.status.in_(["completed", "cancelled", "failed"]))
    ).all()
    weeks = {week_of(local_day(order.finished_at)).start for order in finished}
    for back in range(1, 6):
        assert this_week.start - timedelta(weeks=back) in weeks
    # The previous month is covered from its first week: orders on or before its first Saturday.
    in_previous_month = [o for o in finished if previous_month.starts_at <= o.slot_start < previous_month.ends_at]
    assert min(local_day(o.slot_start) for o in in_previous_month) <= previous_month.start + timedelta(days=6)
    assert {o.status for o in in_previous_month} >= {"completed", "cancelled"}
    assert {o.client_id for o in finished} == {_user(row[0]).id for row in CLIENTS}
    assert {o.worker_id for o in finished if o.worker_id} == {_user(row[0]).id for row in WORKERS}
    assert len([o for o in finished if o.status == "failed"]) >= 3
    # Every finished order has the event billing consumes, dated when it ended.
    ended = {
        int(event.aggregate_id): event
        for event in database.session.scalars(select(Event).where(Event.type.in_(BILLING_EVENTS)))
    }
    assert set(ended) == {o.id for o in finished}
    assert all(ended[o.id].created_at == o.finished_at for o in finished)

    _check_credits()
    _check_sandbox_and_pending_history()

    counts = _counts()
    result = demo.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0 and "already present" in result.output
    assert _counts() == counts


def _check_credits() -> None:
    """US-270: the manager's credits, one dated last month (so last month's invoice has it), with reasons."""
    manager = _user("manager@example.com")
    credits = database.session.scalars(
        select(LedgerTransaction)
        .where(LedgerTransaction.kind == TransactionKind.CREDIT)
        .order_by(LedgerTransaction.occurred_at)
    ).all()
    assert [c.created_by_id for c in credits] == [manager.id, manager.id]
    assert [reason in c.description for c, (_cents, reason) in zip(credits, CREDITS, strict=True)] == [True, True]
    this_month = month_of(local_day(utcnow()))
    assert credits[0].occurred_at < this_month.starts_at <= credits[1].occurred_at
    worker = _user(WORKERS[0][0])
    assert ledger.balance(ledger.account_id(AccountKind.WORKER, worker.id)) == -CREDITS[0][0]


def _check_sandbox_and_pending_history() -> None:
    """US-220: the failing client is set in the sandbox; the history's order events are still pending for
    billing (the running worker and the daily close post them) but handled for notifications (no mail)."""
    failing = _user(CLIENTS[FAILING_CLIENT][0])
    assert sandbox_settings(create=False).fail_user_ids == [failing.id]
    ended = select(Event.id).where(Event.type.in_(BILLING_EVENTS))
    for consumer, expected in (("billing", 0), ("notifications", None)):
        handled = database.session.scalar(
            select(func.count())
            .select_from(HandledEvent)
            .where(HandledEvent.consumer == consumer, HandledEvent.event_id.in_(ended))
        )
        if expected is None:
            assert handled == database.session.scalar(select(func.count()).select_from(ended.subquery()))
        else:
            assert handled == expected
    # Nothing is posted for the orders yet: only the two credits are in the ledger.
    assert database.session.scalar(select(func.count()).select_from(LedgerTransaction)) == len(CREDITS)


def _run(kind: str, now) -> dict:
    manager = _user("manager@example.com")
    run = runs.start_run(kind, manager, now=now)
    database.session.commit()
    return runs.execute(run.id, now).summary


def test_us220_us230_after_the_runs_the_demo_client_and_worker_have_their_invoices(demo, db):
    """Item 11's promise: deliver the history (the daily close does), run the weekly and monthly runs:
    each demo client has an invoice per closed week with charges that add up to its orders, the failing
    client's invoices failed with a retry scheduled, each worker has last month's invoice (the credit
    included), and every ledger transaction balances."""
    now = utcnow()
    set_sandbox(sandbox_settings().fail_user_ids, 0, 0)  # the demo's provider latency is for people watching
    database.session.commit()
    close_due_days(now)
    assert database.session.scalar(
        select(func.count()).select_from(Event).where(Event.type.in_(BILLING_EVENTS), Event.created_at < now)
    ) == database.session.scalar(
        select(func.count()).select_from(HandledEvent).where(HandledEvent.consumer == "billing")
    )
    weekly = _run(runs.WEEKLY_CLIENTS, now)
    monthly = _run(runs.MONTHLY_WORKERS, now)
    assert weekly["invoices"] >= 3 * 5 and monthly["invoices"] >= 3, (weekly, monthly)

    this_week = week_of(local_day(now))
    previous_month = month_of(month_of(local_day(now)).start - timedelta(days=1))
    # The last cutoff that has passed (Sunday at WEEKLY_RUN_AT): what ended before it is billed.
    cut = week_cutoff(this_week) if now >= week_cutoff(this_week) else week_cutoff(week_of(this_week.start - DAY))

    def billing_week(moment):
        week = week_of(local_day(moment))
        return week_of(week.end) if moment >= week_cutoff(week) else week

    # A simple re-computation from the orders: the price of every order that ended in a billed week.
    expected: dict[tuple[int, object], int] = defaultdict(int)
    for order in database.session.scalars(select(Order).where(Order.status.in_(["completed", "cancelled", "failed"]))):
        if order.price_cents and order.finished_at < cut:
            expected[(order.client_id, billing_week(order.finished_at).start)] += order.price_cents
    invoices = database.session.scalars(select(Invoice).where(Invoice.party_kind == "client")).all()
    assert {(i.user_id, i.period_start): i.amount_cents for i in invoices} == dict(expected)

    failing = _user(CLIENTS[FAILING_CLIENT][0]).id
    for invoice in invoices:
        if invoice.user_id == failing:
            assert invoice.status == InvoiceStatus.FAILED and invoice.attempts == 1 and invoice.next_attempt_at > now
        else:
            assert invoice.status == InvoiceStatus.PAID
    # The paying client owes nothing of the billed weeks: only this week's charges are open.
    client = _user(CLIENTS[0][0]).id
    open_charges = sum(
        o.price_cents or 0
        for o in database.session.scalars(select(Order).where(Order.client_id == client))
        if o.status in ("completed", "cancelled", "failed") and o.finished_at >= cut
    )
    assert any(i.user_id == client for i in invoices)
    assert ledger.balance(ledger.account_id(AccountKind.CLIENT, client)) == open_charges

    worker = _user(WORKERS[0][0])
    month_invoice = database.session.scalar(
        select(Invoice).where(
            Invoice.party_kind == "worker",
            Invoice.user_id == worker.id,
            Invoice.period_start == previous_month.start,
        )
    )
    assert month_invoice is not None and month_invoice.status == InvoiceStatus.PAID
    assert month_invoice.breakdown["credits"] == CREDITS[0][0]
    assert month_invoice.amount_cents == (
        month_invoice.breakdown["carried_in"]
        + month_invoice.breakdown["earnings"]
        - month_invoice.breakdown["fines"]
        + CREDITS[0][0]
    )

    # The ledger invariant, checked by the database's own deferred constraint too.
    database.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert ledger.unbalanced_transactions() == []


def test_issue12_after_loading_the_demo_a_managers_run_has_work_and_takes_visible_time(demo, db):
    """Issue 12 point 15: the schedule does not bill the demo's history at start (automatic runs are
    paused, days still close), so the manager's weekly run has weeks to invoice and charges to make,
    each answered by the sandbox after about DEMO_SANDBOX_DELAY_MS: its progress bar moves."""
    from app.billing.jobs import check
    from app.billing.overview import run_summary_text
    from app.billing.settings import automatic_runs
    from app.demo.data import DEMO_SANDBOX_DELAY_MS

    assert automatic_runs() is False
    assert sandbox_settings(create=False).delay_ms == DEMO_SANDBOX_DELAY_MS >= 1000
    now = utcnow()
    close_due_days(now)
    database.session.commit()
    assert check(runs.WEEKLY_CLIENTS) is None and check(runs.MONTHLY_WORKERS) is None, "left to the manager"
    assert runs.has_work(runs.WEEKLY_CLIENTS, now) and runs.has_work(runs.MONTHLY_WORKERS, now)

    set_sandbox(sandbox_settings().fail_user_ids, 0, 0)  # the latency is for people watching, not this test
    database.session.commit()
    summary = _run(runs.WEEKLY_CLIENTS, now)
    assert summary["invoices"] >= 3 * 5 and summary["paid"] >= 5, summary
    assert run_summary_text(summary) != "nothing to do"
