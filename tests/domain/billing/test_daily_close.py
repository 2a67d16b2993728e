"""The daily close (the design's end-of-day job) with time travel: days in the company's time
zone, a 25-hour day at the end of summer time, missed days caught up, late postings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.billing.credits import credit_worker
from app.billing.models import AccountKind, DailyTotal, DayClose, LedgerAccount, ParkedParty, TransactionKind
from app.billing.periods import day_period
from app.billing.postings import post_order_outcome
from app.billing.processes import close
from app.events.models import EventFailure
from app.events.registry import consumers
from app.extensions import db as database
from tests.support.ledger import end_order, last_event, transactions_of

C, W = AccountKind.CLIENT, AccountKind.WORKER


def totals() -> dict[tuple, int]:
    rows = database.session.execute(
        select(
            DailyTotal.day, LedgerAccount.kind, LedgerAccount.user_id, DailyTotal.kind, DailyTotal.amount_cents
        ).join(LedgerAccount, LedgerAccount.id == DailyTotal.account_id)
    ).all()
    return {(day, account_kind, user_id, kind): amount for day, account_kind, user_id, kind, amount in rows}


def closed_days() -> list[date]:
    return list(database.session.scalars(select(DayClose.day).order_by(DayClose.day)))


def close_at(moment: datetime) -> list[date]:
    with time_machine.travel(moment, tick=False):
        return close.close_due_days()


@pytest.fixture
def berlin(app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPANY_TIMEZONE", "Europe/Berlin")


def test_daily_close_in_berlin_across_the_end_of_summer_time_and_catching_up(berlin, client_user, worker, service):
    """Summer time ends on Sunday 25 October 2026 in Berlin: that local day lasts 25 hours."""
    day24, day25, day26, day27, day28 = (date(2026, 10, d) for d in range(24, 29))
    long_day = day_period(day25)
    assert long_day.ends_at.astimezone(UTC) - long_day.starts_at.astimezone(UTC) == timedelta(hours=25)

    a = end_order("completed", datetime(2026, 10, 24, 21, 30, tzinfo=UTC), client_user, worker, service)  # 23:30 on 24
    b = end_order("completed", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), client_user, worker, service)  # 00:30 on 25
    c = end_order("failed", datetime(2026, 10, 25, 22, 30, tzinfo=UTC), client_user, worker, service)  # 23:30 on 25
    d = end_order("cancelled", datetime(2026, 10, 25, 23, 30, tzinfo=UTC), client_user, worker, service)  # 00:30 on 26
    # No event was handed to billing yet: the close delivers each day's pending events itself.
    assert transactions_of(a) == {}

    # Monday 08:00 UTC (09:00 in Berlin): Saturday 24 and the long Sunday 25 have ended.
    assert close_at(datetime(2026, 10, 26, 8, 0, tzinfo=UTC)) == [day24, day25]
    assert set(transactions_of(a)) == set(transactions_of(b)) == {TransactionKind.CHARGE, TransactionKind.EARNING}
    assert set(transactions_of(c)) == {TransactionKind.CHARGE, TransactionKind.FINE}
    assert transactions_of(d) == {}  # Monday's event: Monday has not been closed
    assert totals() == {
        (day24, C, client_user.id, "charge"): 100_00,
        (day24, AccountKind.REVENUE, None, "charge"): -100_00,
        (day24, W, worker.id, "earning"): -60_00,
        (day24, AccountKind.PAYOUTS, None, "earning"): 60_00,
        (day25, C, client_user.id, "charge"): 200_00,  # b at 00:30 and c at 23:30 local
        (day25, AccountKind.REVENUE, None, "charge"): -200_00,
        (day25, W, worker.id, "earning"): -60_00,
        (day25, AccountKind.PAYOUTS, None, "earning"): 60_00,
        (day25, W, worker.id, "fine"): 40_00,
        (day25, AccountKind.FINES, None, "fine"): -40_00,
    }
    assert close.days_closed_through() == day25

    # The job misses Monday to Wednesday; Thursday's run makes up every ended day.
    e = end_order("completed", datetime(2026, 10, 27, 12, 0, tzinfo=UTC), client_user, worker, service)
    thursday = datetime(2026, 10, 29, 6, 0, tzinfo=UTC)
    assert close_at(thursday) == [day26, day27, day28]
    assert set(transactions_of(d)) == {TransactionKind.CHARGE} and set(transactions_of(e)) == {
        TransactionKind.CHARGE,
        TransactionKind.EARNING,
    }
    after = totals()
    assert after[(day26, C, client_user.id, "charge")] == 100_00
    assert after[(day27, W, worker.id, "earning")] == -60_00
    assert not [key for key in after if key[0] == day28]  # an empty day is closed with no totals
    assert closed_days() == [day24, day25, day26, day27, day28]
    assert close.days_closed_through() == day28

    # Run again (a doubled run): nothing to close, nothing changes.
    assert close_at(thursday) == []
    assert close_at(thursday + timedelta(hours=10)) == []
    assert totals() == after
    # Closing a closed day again only recomputes the same totals.
    with time_machine.travel(thursday, tick=False):
        assert close.close_day(day25) is True
    assert totals() == after


def test_a_posting_that_lands_late_in_a_closed_day_keeps_its_totals_right(client_user, worker, service, manager):
    day = date(2026, 10, 21)
    first = end_order("completed", datetime(2026, 10, 21, 9, 0, tzinfo=UTC), client_user, worker, service)
    assert close_at(datetime(2026, 10, 22, 1, 0, tzinfo=UTC)) == [day]
    assert set(transactions_of(first)) == {TransactionKind.CHARGE, TransactionKind.EARNING}

    # An event of that day reaches billing only after the close (delivered late)...
    late = end_order("failed", datetime(2026, 10, 21, 23, 59, tzinfo=UTC), client_user, worker, service)
    post_order_outcome(last_event(late))
    # ... and a credit is back-dated into it.
    credit_worker(worker, 15_00, "Stayed late", manager, now=datetime(2026, 10, 21, 18, 0, tzinfo=UTC))

    incremented = totals()
    assert incremented[(day, C, client_user.id, "charge")] == 200_00
    assert incremented[(day, W, worker.id, "fine")] == 40_00
    assert incremented[(day, W, worker.id, "credit")] == -15_00
    assert incremented[(day, AccountKind.PAYOUTS, None, "credit")] == 15_00
    # The same as recomputing the day from the ledger.
    close.write_totals(day)
    assert totals() == incremented
    # Handling the late event again changes nothing.
    post_order_outcome(last_event(late))
    assert totals() == incremented


def test_a_day_whose_billing_event_keeps_failing_closes_with_its_parties_parked_and_the_posting_lands_late(
    client_user, worker, service, monkeypatch
):
    """Issue 13: the failing event no longer holds the day (and every later one) open: its client and
    worker are parked, and when it is posted the closed day's totals take it as a late posting."""
    day = date(2026, 10, 21)
    order = end_order("completed", datetime(2026, 10, 21, 9, 0, tzinfo=UTC), client_user, worker, service)

    def broken(event):
        raise RuntimeError("billing is broken today")

    handlers = consumers["billing"].handlers
    monkeypatch.setitem(handlers, "order.completed", broken)
    assert close_at(datetime(2026, 10, 22, 1, 0, tzinfo=UTC)) == [day]
    assert database.session.scalars(select(EventFailure).where(EventFailure.consumer == "billing")).one().attempts == 1
    parks = database.session.scalars(select(ParkedParty)).all()
    assert sorted((p.party_kind, p.user_id) for p in parks) == [(C, client_user.id), (W, worker.id)]
    assert (day, C, client_user.id, "charge") not in totals()

    monkeypatch.setitem(handlers, "order.completed", post_order_outcome)
    post_order_outcome(last_event(order))  # posted at last (the event queue's retry)
    assert set(transactions_of(order)) == {TransactionKind.CHARGE, TransactionKind.EARNING}
    assert totals()[(day, C, client_user.id, "charge")] == 100_00


def test_a_day_whose_failing_event_names_no_party_stays_open(client_user, worker, service, monkeypatch):
    order = end_order("completed", datetime(2026, 10, 21, 9, 0, tzinfo=UTC), client_user, worker, service)
    event = last_event(order)
    event.payload = {key: value for key, value in event.payload.items() if key not in ("client_id", "worker_id")}
    database.session.flush()
    monkeypatch.setitem(consumers["billing"].handlers, "order.completed", lambda e: 1 / 0)
    assert close_at(datetime(2026, 10, 22, 1, 0, tzinfo=UTC)) == []
    assert closed_days() == [] and database.session.scalars(select(ParkedParty)).all() == []


def test_days_closed_through_is_the_end_of_the_first_unbroken_run_and_the_close_fills_gaps(db):
    first = date(2026, 10, 5)
    now = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
    for offset in (0, 1, 3):
        assert close.close_day(first + timedelta(days=offset), now) is True
    assert close.days_closed_through() == first + timedelta(days=1)

    assert close.close_due_days(now) == [first + timedelta(days=n) for n in range(2, 7)]
    assert close.days_closed_through() == date(2026, 10, 11)


def test_a_day_cannot_be_closed_before_it_ends_and_nothing_closes_without_activity(db):
    with pytest.raises(close.DayNotOver):
        close.close_day(date(2026, 10, 21), now=datetime(2026, 10, 21, 23, 59, tzinfo=UTC))
    assert close.close_due_days(datetime(2026, 10, 21, 23, 59, tzinfo=UTC)) == []
    assert close.days_closed_through() is None
