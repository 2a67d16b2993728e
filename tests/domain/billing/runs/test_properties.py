"""Property tests (hypothesis): invoice totals equal a simple re-computation from the charges
(US-220) and the earnings and fines (US-230, the negative month carrying), across a DST change.
Each period's invoice takes what ended before its cutoff (Sunday 18:00, the month's last day 18:00);
what ends after the cutoff belongs to the next period."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.billing import ledger
from app.billing.models import AccountKind
from app.billing.periods import local_day, month_cutoff, month_of, week_cutoff, week_of
from app.billing.processes import runs
from tests.support.billing_runs import balance, bill, charge, earning, fine, invoices, payments_count, sandbox_count
from tests.support.factories import ClientFactory, WorkerFactory

PROPERTY_SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BOOKS = (
    "invoice_items, payment_attempts, invoices, ledger_entries, ledger_transactions, ledger_accounts, day_closes, "
    "daily_totals, billing_runs, sandbox_payments, sandbox_settings, outbox_emails, email_recipient_sequences"
)


def fresh_books(database) -> None:
    """Each example starts with empty books (the users of earlier examples stay, unused)."""
    database.session.rollback()  # no open transaction may hold the tables being emptied
    database.session.execute(text(f"TRUNCATE {BOOKS} RESTART IDENTITY"))
    database.session.commit()


MINUTES_IN_3_WEEKS = 21 * 24 * 60

charges = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 500_00), st.integers(0, MINUTES_IN_3_WEEKS - 1)), max_size=12
)


@PROPERTY_SETTINGS
@given(charges=charges)
def test_us220_property_weekly_invoices_match_a_recomputation(money, zone, app, charges):
    fresh_books(money)
    local = zone("America/New_York")
    start = local(2024, 3, 4)  # three weeks around the spring-forward of Sun 10 Mar
    clients = [ClientFactory() for _ in range(3)]
    run_at = local(2024, 3, 25, 0, 1)
    expected: dict[tuple[int, object], int] = defaultdict(int)
    for index, cents, minute in charges:
        at = (start.astimezone(UTC) + timedelta(minutes=minute)).astimezone(start.tzinfo)  # real minutes
        charge(clients[index], cents, at)
        week = week_of(local_day(at))
        if at >= week_cutoff(week):  # after Sunday's cutoff: next week's invoice
            week = week_of(week.end)
        if week_cutoff(week) <= run_at:  # a week whose cutoff has not come is billed later
            expected[(clients[index].id, week.start)] += cents
    money.session.commit()
    bill(runs.WEEKLY_CLIENTS, run_at)
    got = {(invoice.user_id, invoice.period_start): invoice.amount_cents for invoice in invoices()}
    assert got == dict(expected)
    assert payments_count() == sandbox_count() == len(expected)
    assert ledger.unbalanced_transactions() == []


worker_money = st.lists(
    st.tuples(st.sampled_from(["earning", "fine"]), st.integers(1, 200_00), st.integers(0, 3 * 30 * 24 - 1)),
    max_size=10,
)


@PROPERTY_SETTINGS
@given(moves=worker_money)
def test_us230_property_monthly_invoices_match_a_recomputation(money, zone, app, moves):
    fresh_books(money)
    local = zone("Europe/Berlin")
    worker = WorkerFactory()
    start = local(2024, 9, 1)  # September to November, over the autumn DST change
    net_by_month: dict[object, int] = defaultdict(int)
    for kind, cents, hour in moves:
        at = (start.astimezone(UTC) + timedelta(hours=hour)).astimezone(start.tzinfo)
        (earning if kind == "earning" else fine)(worker, cents, at)
        month = month_of(local_day(at))
        if at >= month_cutoff(month):  # after the last day's cutoff: next month's invoice
            month = month_of(month.end)
        net_by_month[month.start] += cents if kind == "earning" else -cents
    money.session.commit()
    bill(runs.MONTHLY_WORKERS, local(2024, 12, 1, 0, 1))
    unbilled = net_by_month.pop(local(2024, 12, 1).date(), 0)  # December's: its cutoff has not come

    expected, carry = {}, 0  # the simple re-computation: a negative month carries its debt
    months = sorted(net_by_month)
    month = months[0] if months else None
    while month is not None and month < local(2024, 12, 1).date():
        net = carry + net_by_month.get(month, 0)
        if month in net_by_month or carry:
            expected[month] = max(0, net)
        carry = min(0, net)
        month = month_of(month).end
    got = {invoice.period_start: invoice.amount_cents for invoice in invoices()}
    assert got == expected
    # Paid out plus the debt still carried is exactly what was earned net; the ledger agrees.
    assert sum(expected.values()) + carry == sum(net_by_month.values())
    assert balance(AccountKind.WORKER, worker) == -carry - unbilled
    assert ledger.unbalanced_transactions() == []
