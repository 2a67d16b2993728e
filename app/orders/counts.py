"""How many orders each status has, overall or in a range of slot hours, without counting the orders.

Triggers on `orders` (migration pages_0001) write signed deltas into `order_status_counts` (per
status) and `order_slot_counts` (per status and UTC hour of the slot's start) in the transaction
that inserts, moves, reschedules or deletes orders, by any path (the status machine, set-based
inserts, test factories, the demo). A count is the sum of its rows: exact in every snapshot, and
no row is ever updated, so transitions never queue on a shared counter row (nor deadlock on two).
`fold` replaces the rows by one per key, periodically, so the sums stay a few rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text

from app.extensions import db
from app.orders.models import OrderSlotCount, OrderStatusCount

# pg_try_advisory_xact_lock key: one fold at a time (a second one has nothing to do).
FOLD_LOCK = 0x4F524443  # "ORDC"

FOLDS = (
    text(
        """
        WITH gone AS (DELETE FROM order_status_counts RETURNING status, delta)
        INSERT INTO order_status_counts (status, delta)
        SELECT status, sum(delta) FROM gone GROUP BY status HAVING sum(delta) <> 0
        """
    ),
    text(
        """
        WITH gone AS (DELETE FROM order_slot_counts RETURNING slot_hour, status, delta)
        INSERT INTO order_slot_counts (slot_hour, status, delta)
        SELECT slot_hour, status, sum(delta) FROM gone GROUP BY slot_hour, status HAVING sum(delta) <> 0
        """
    ),
)


def status_counts() -> dict[str, int]:
    """Orders per status, over every order (statuses without orders are left out): one small query."""
    rows = db.session.execute(
        select(OrderStatusCount.status, func.sum(OrderStatusCount.delta))
        .group_by(OrderStatusCount.status)
        .having(func.sum(OrderStatusCount.delta) != 0)
    )
    return {status: int(total) for status, total in rows}


def on_the_hour(moment: datetime) -> bool:
    """Whether a bound falls on a whole UTC hour, which the hourly counts can honour exactly."""
    return (
        moment.minute == 0
        and moment.second == 0
        and moment.microsecond == 0
        and moment.utcoffset() is not None
        and (moment.utcoffset().total_seconds() % 3600 == 0)
    )


def slot_status_counts(start: datetime | None, end: datetime | None) -> dict[str, int]:
    """Orders per status whose slot starts in [start, end) (None: unbounded); both bounds on whole
    UTC hours (`on_the_hour`). One query over at most 7 rows per hour of the range after a fold."""
    query = select(OrderSlotCount.status, func.sum(OrderSlotCount.delta)).group_by(OrderSlotCount.status)
    if start is not None:
        query = query.where(OrderSlotCount.slot_hour >= start)
    if end is not None:
        query = query.where(OrderSlotCount.slot_hour < end)
    rows = db.session.execute(query.having(func.sum(OrderSlotCount.delta) != 0))
    return {status: int(total) for status, total in rows}


def fold() -> int:
    """Replace the delta rows by one row per key, in the caller's transaction; returns the rows removed.

    Exact under concurrency: the DELETE removes only rows of its snapshot and the INSERT writes
    their sums in the same transaction, so a reader sees all the rows or their sums, never both;
    rows added meanwhile by other transactions are left for the next fold."""
    if not db.session.scalar(select(func.pg_try_advisory_xact_lock(FOLD_LOCK))):
        return 0
    removed = 0
    for table, fold_statement in zip((OrderStatusCount, OrderSlotCount), FOLDS, strict=True):
        before = db.session.scalar(select(func.count()).select_from(table))
        db.session.execute(fold_statement)
        removed += before - db.session.scalar(select(func.count()).select_from(table))
    return removed
