"""The daily close: at the end of each day in the company's time zone the day is closed.

Closing a day (`close_day`) first delivers the billing consumer's still-pending events of that
day (the events are the source of truth for order postings), then writes the day's totals per
account and transaction kind (`DailyTotal`, one set-based INSERT ... SELECT ... GROUP BY) and the
`DayClose` row. `close_due_days` closes every ended day not closed yet, from the first day with
billing events or ledger entries, so a missed run is made up; each day commits on its own, so a
run killed midway keeps the days it closed. Closing a day again only recomputes its totals.

Totals are a cache of the ledger, never the truth. A posting that lands in a day already closed
(an event delivered late) must still show in them, so every posting made by billing goes through
`record_posting`: under a shared advisory lock on its day it posts, and if the day is closed it
adds the new entries to that day's totals (an additive upsert, which commutes with other late
postings). The close holds the exclusive lock on the day while it writes the totals, so a posting
either commits before the close reads the ledger or waits and then sees the day closed.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import delete, exists, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert

from app.billing import ledger
from app.billing.models import DailyTotal, DayClose, LedgerEntry, LedgerTransaction
from app.billing.periods import day_period, local_day
from app.billing.processes import parked
from app.events.models import Event
from app.extensions import db
from app.platform.clock import utcnow

log = logging.getLogger(__name__)

CONSUMER = "billing"
_LOCK_NAMESPACE = "billing-day"
_EPOCH = date(2000, 1, 1)
# Pending events this much older than the day's start are still delivered by its close (an event
# whose row was written just before midnight but committed after the previous close).
_DELIVERY_MARGIN = timedelta(days=1)


class DayNotOver(ValueError):
    """A day can only be closed once it has ended in the company's time zone."""


# ---------------------------------------------------------------- locking a day


def _lock_day(day: date, *, shared: bool) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    db.session.execute(
        text(f"SELECT {function}(hashtext(:namespace), :day)"),
        {"namespace": _LOCK_NAMESPACE, "day": (day - _EPOCH).days},
    )


def is_closed(day: date) -> bool:
    return db.session.get(DayClose, day) is not None


def record_posting(
    key: str, kind: str, description: str, occurred_at: datetime, entries, **references
) -> tuple[LedgerTransaction, bool]:
    """`ledger.post`, made safe for a day that may already be closed: returns (txn, is_new).

    Billing code that posts money uses this, so a late posting keeps its day's totals right.
    """
    day = local_day(occurred_at)
    _lock_day(day, shared=True)
    transaction, is_new = ledger.post(key, kind, description, occurred_at, entries, **references)
    if is_new and is_closed(day):
        _add_to_totals(day, transaction)
        log.info("late posting %s added to the totals of closed day %s", key, day)
    return transaction, is_new


def _add_to_totals(day: date, transaction: LedgerTransaction) -> None:
    per_account: dict[int, int] = {}
    for entry in transaction.entries:
        per_account[entry.account_id] = per_account.get(entry.account_id, 0) + entry.amount_cents
    rows = [
        {"day": day, "account_id": account, "kind": transaction.kind, "amount_cents": amount}
        for account, amount in per_account.items()
    ]
    statement = insert(DailyTotal).values(rows)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "account_id", "kind"],
            set_={"amount_cents": DailyTotal.amount_cents + statement.excluded.amount_cents},
        )
    )


# ---------------------------------------------------------------- closing days


def _billing_event_types() -> list[str]:
    from app.events.registry import consumers

    return consumers[CONSUMER].event_types


def _pending_aggregates(day: date, until: datetime | None = None) -> list[tuple[str, str]]:
    from app.events.jobs import pending_events

    period = day_period(day)
    rows = db.session.execute(
        pending_events(CONSUMER)
        .where(Event.created_at >= period.starts_at - _DELIVERY_MARGIN, Event.created_at < (until or period.ends_at))
        .with_only_columns(Event.aggregate_type, Event.aggregate_id)
        .distinct()
    ).all()
    return [(row.aggregate_type, row.aggregate_id) for row in rows]


def deliver_pending(day: date) -> int:
    """Deliver the billing consumer's pending events of `day` now, through the event machinery.

    Returns how many events of the day are still pending afterwards (a handler that failed; it
    is retried with backoff by the event queue).
    """
    from app.events.jobs import deliver

    aggregates = _pending_aggregates(day)
    for aggregate_type, aggregate_id in aggregates:
        # `deliver` runs in an app context (and database session) of its own and commits there.
        deliver(CONSUMER, aggregate_type, aggregate_id)
    return len(_pending_aggregates(day)) if aggregates else 0


def deliver_before(moment: datetime) -> None:
    """Before a run bills up to a cutoff inside a day not closed yet: deliver that day's pending
    billing events created before the cutoff, and park the parties of those that still fail
    (flushes; `deliver` commits in its own session)."""
    day = local_day(moment)
    if is_closed(day):
        return
    aggregates = _pending_aggregates(day, moment)
    for aggregate_type, aggregate_id in aggregates:
        deliver_event(aggregate_type, aggregate_id)
    if aggregates and _pending_aggregates(day, moment):
        parked.park_pending(day, _DELIVERY_MARGIN, until=moment)


def deliver_event(aggregate_type: str, aggregate_id: str) -> None:
    from app.events.jobs import deliver

    deliver(CONSUMER, aggregate_type, aggregate_id)


def write_totals(day: date) -> None:
    """Recompute the day's totals from the ledger (delete, then one INSERT ... SELECT ... GROUP BY)."""
    period = day_period(day)
    db.session.execute(delete(DailyTotal).where(DailyTotal.day == day))
    totals = (
        select(
            literal(day).label("day"),
            LedgerEntry.account_id,
            LedgerTransaction.kind,
            func.sum(LedgerEntry.amount_cents),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.occurred_at >= period.starts_at, LedgerEntry.occurred_at < period.ends_at)
        .group_by(LedgerEntry.account_id, LedgerTransaction.kind)
    )
    db.session.execute(insert(DailyTotal).from_select(["day", "account_id", "kind", "amount_cents"], totals))


def close_day(day: date, now: datetime | None = None) -> bool:
    """Close one ended day (idempotent: closing it again recomputes its totals); flushes only.

    A billing event still pending after the delivery (its handler keeps failing) does not hold
    the day: the parties it concerns are parked (`parked.park_pending`: the runs skip them until
    it is posted) and the day closes; its postings land later as late postings. Returns False,
    closing nothing, only when such an event names no party to park.
    Commit after each day (as `close_due_days` does): the day's exclusive lock is held until
    then, and the next day's delivery runs in other sessions that may need it.
    """
    now = now or utcnow()
    if day_period(day).ends_at > now:
        raise DayNotOver(f"{day} has not ended yet")
    still_pending = deliver_pending(day)
    if still_pending and not parked.park_pending(day, _DELIVERY_MARGIN):
        log.warning("day %s not closed: %s aggregates have billing events still pending", day, still_pending)
        return False
    _lock_day(day, shared=False)
    write_totals(day)
    db.session.execute(insert(DayClose).values(day=day, closed_at=now).on_conflict_do_nothing())
    db.session.flush()
    return True


def days_closed_through() -> date | None:
    """The last day D such that every day from the first closed day to D is closed (None: none).

    The weekly and monthly runs bill a period only when its last day is on or before this.
    """
    following = DayClose.__table__.alias("following")
    return db.session.scalar(
        select(func.min(DayClose.day)).where(
            ~exists().where(following.c.day == DayClose.day + 1),
        )
    )


def first_activity_day() -> date | None:
    """The local day of the earliest billing event or ledger entry."""
    candidates = [
        db.session.scalar(select(func.min(Event.created_at)).where(Event.type.in_(_billing_event_types()))),
        db.session.scalar(select(func.min(LedgerEntry.occurred_at))),
    ]
    moments = [moment for moment in candidates if moment is not None]
    return local_day(min(moments)) if moments else None


def close_due_days(now: datetime | None = None) -> list[date]:
    """Close every ended day not closed yet, oldest first, committing each; returns the days closed.

    Starts after the last day of the contiguous closed range, or at the first day with activity
    when nothing is closed yet. Stops at a day that cannot close yet (a pending event), so closed
    days stay contiguous.
    """
    now = now or utcnow()
    last_ended = local_day(now) - timedelta(days=1)
    through = days_closed_through()
    day = through + timedelta(days=1) if through is not None else first_activity_day()
    closed: list[date] = []
    while day is not None and day <= last_ended:
        if not close_day(day, now):  # wrote nothing; the failed event is retried by the event queue
            break
        db.session.commit()
        closed.append(day)
        day += timedelta(days=1)
    return closed
