"""Issue 12 point 6 (US-220, US-230): clients are invoiced on Sunday and workers on the month's last
day, at WEEKLY_RUN_AT / MONTHLY_RUN_AT in the company's zone; that moment is the period's cutoff:
what ends after it goes on the next invoice, exactly once. Time travel through the scheduled checks,
with real orders whose billing events are still pending when the run comes (the cutoff's day is not
closed yet), in Berlin's and New York's DST weeks."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from app.billing.jobs import check
from app.billing.models import Invoice, InvoiceItem, LedgerTransaction, TransactionKind
from app.billing.periods import monthly_run_at, week_cutoff, week_of, weekly_run_at
from app.billing.processes import runs
from app.extensions import db as database
from tests.support.ledger import end_order

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


@pytest.fixture
def company_zone(app, monkeypatch):
    def use(zone: ZoneInfo, **settings):
        monkeypatch.setitem(app.config, "COMPANY_TIMEZONE", zone.key)
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)

    return use


def _scheduled(kind: str, moment: datetime) -> int | None:
    """What the periodic check does at `moment`: the daily close first, then this kind's run."""
    with time_machine.travel(moment, tick=False):
        closing = check(runs.DAILY_CLOSE)
        if closing is not None:
            runs.execute(closing)
        run_id = check(kind)
        if run_id is not None:
            runs.execute(run_id)
        return run_id


def _invoices(party_kind: str) -> list[Invoice]:
    return list(
        database.session.scalars(
            select(Invoice).where(Invoice.party_kind == party_kind).order_by(Invoice.period_start, Invoice.user_id)
        )
    )


def _times_invoiced(order, kind: str) -> int:
    return database.session.scalar(
        select(func.count())
        .select_from(InvoiceItem)
        .join(LedgerTransaction, LedgerTransaction.id == InvoiceItem.transaction_id)
        .where(LedgerTransaction.order_id == order.id, LedgerTransaction.kind == kind)
    )


def test_us220_clients_are_invoiced_on_sunday_at_the_cutoff_in_berlins_dst_week(
    company_zone, client_user, worker, service
):
    """Summer time ends on Sunday 25 Oct 2026: the week's run is that Sunday at 18:00 CET (17:00 UTC)."""
    company_zone(BERLIN)
    midweek = end_order("completed", datetime(2026, 10, 21, 10, 0, tzinfo=BERLIN), client_user, worker, service)
    before = end_order("completed", datetime(2026, 10, 25, 17, 0, tzinfo=BERLIN), client_user, worker, service)
    after = end_order("completed", datetime(2026, 10, 25, 18, 30, tzinfo=BERLIN), client_user, worker, service)
    assert week_cutoff(week_of(date(2026, 10, 19))) == datetime(2026, 10, 25, 17, 0, tzinfo=ZoneInfo("UTC"))

    assert _scheduled(runs.WEEKLY_CLIENTS, datetime(2026, 10, 25, 17, 55, tzinfo=BERLIN)) is None
    assert _invoices("client") == [], "not before the cutoff"

    # 18:01 on Sunday: no billing event was delivered yet and Sunday is not closed; the run posts the
    # events of before the cutoff itself, and leaves the one after it for next week.
    assert _scheduled(runs.WEEKLY_CLIENTS, datetime(2026, 10, 25, 18, 1, tzinfo=BERLIN)) is not None
    (first,) = _invoices("client")
    assert (first.period_start, first.amount_cents, first.breakdown["orders"]) == (date(2026, 10, 19), 200_00, 2)
    assert _times_invoiced(midweek, "charge") == _times_invoiced(before, "charge") == 1
    assert _times_invoiced(after, "charge") == 0

    # The next checks that Sunday, and on Monday after the close of Sunday, add nothing.
    assert _scheduled(runs.WEEKLY_CLIENTS, datetime(2026, 10, 25, 23, 0, tzinfo=BERLIN)) is None
    assert _scheduled(runs.WEEKLY_CLIENTS, datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN)) is None
    assert len(_invoices("client")) == 1

    assert _scheduled(runs.WEEKLY_CLIENTS, datetime(2026, 11, 1, 18, 1, tzinfo=BERLIN)) is not None
    first, second = _invoices("client")
    assert (second.period_start, second.amount_cents, second.breakdown["late"]) == (date(2026, 10, 26), 100_00, 0)
    assert _times_invoiced(after, "charge") == 1, "after the cutoff: on next week's invoice, exactly once"
    assert database.session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_us230_workers_are_invoiced_on_the_last_day_at_a_configured_time_in_new_york(
    company_zone, client_user, worker, service
):
    """MONTHLY_RUN_AT="20:30": October 2026 ends on a Saturday, the day before New York's DST change."""
    # Booked in UTC (the shared test slot is 06:00 in New York, outside its working hours), billed there.
    early = end_order("completed", datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK), client_user, worker, service)
    late = end_order("completed", datetime(2026, 10, 31, 21, 0, tzinfo=NEW_YORK), client_user, worker, service)
    company_zone(NEW_YORK, MONTHLY_RUN_AT="20:30")

    assert _scheduled(runs.MONTHLY_WORKERS, datetime(2026, 10, 31, 20, 25, tzinfo=NEW_YORK)) is None
    assert _scheduled(runs.MONTHLY_WORKERS, datetime(2026, 10, 31, 20, 31, tzinfo=NEW_YORK)) is not None
    (october,) = _invoices("worker")
    assert (october.period_start, october.amount_cents) == (date(2026, 10, 1), 60_00)
    assert _times_invoiced(early, TransactionKind.EARNING) == 1 and _times_invoiced(late, "earning") == 0

    assert _scheduled(runs.MONTHLY_WORKERS, datetime(2026, 11, 30, 20, 31, tzinfo=NEW_YORK)) is not None
    _, november = _invoices("worker")
    assert (november.period_start, november.amount_cents) == (date(2026, 11, 1), 60_00)
    assert _times_invoiced(late, "earning") == 1


def test_run_times_are_read_from_the_configuration(app):
    assert weekly_run_at("Sun 18:00") == (6, time(18, 0)) and weekly_run_at("friday 09:30") == (4, time(9, 30))
    assert monthly_run_at("07:15") == time(7, 15)
    for bad in ("Sunday", "Xyz 18:00", "Sun 25:00", "Sun 18"):
        with pytest.raises(ValueError, match="WEEKLY_RUN_AT"):
            weekly_run_at(bad)
    with pytest.raises(ValueError, match="MONTHLY_RUN_AT"):
        monthly_run_at("6pm")
