"""How many orders each status has, without counting the orders.

Triggers on `orders` (migration pages_0001) write signed deltas into `order_status_counts` in the
transaction that inserts, moves or deletes orders, by any path (the status machine, set-based
inserts, test factories, the demo). A status's count is the sum of its rows: exact in every
snapshot, and no row is ever updated, so transitions never queue on a shared counter row (nor
deadlock on two). `fold` replaces the rows by one per status, periodically, so the sum stays
a handful of rows.
"""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.extensions import db
from app.orders.models import OrderStatusCount

# pg_try_advisory_xact_lock key: one fold at a time (a second one has nothing to do).
FOLD_LOCK = 0x4F524443  # "ORDC"

FOLD = text(
    """
    WITH gone AS (DELETE FROM order_status_counts RETURNING status, delta)
    INSERT INTO order_status_counts (status, delta)
    SELECT status, sum(delta) FROM gone GROUP BY status HAVING sum(delta) <> 0
    """
)


def status_counts() -> dict[str, int]:
    """Orders per status, over every order (statuses without orders are left out): one small query."""
    rows = db.session.execute(
        select(OrderStatusCount.status, func.sum(OrderStatusCount.delta))
        .group_by(OrderStatusCount.status)
        .having(func.sum(OrderStatusCount.delta) != 0)
    )
    return {status: int(total) for status, total in rows}


def fold() -> int:
    """Replace the delta rows by one row per status, in the caller's transaction; returns the rows removed.

    Exact under concurrency: the DELETE removes only rows of its snapshot and the INSERT writes
    their sums in the same transaction, so a reader sees all the rows or their sums, never both;
    rows added meanwhile by other transactions are left for the next fold."""
    if not db.session.scalar(select(func.pg_try_advisory_xact_lock(FOLD_LOCK))):
        return 0
    before = db.session.scalar(select(func.count()).select_from(OrderStatusCount))
    db.session.execute(FOLD)
    after = db.session.scalar(select(func.count()).select_from(OrderStatusCount))
    return before - after
