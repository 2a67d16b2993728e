"""Per-worker figures that matching reads instead of counting orders (issue 13, point 4).

`matching_worker_figures` (completed, failed, cancelled orders) and `matching_worker_load_days`
(booked orders per UTC day of their slot) are kept by a trigger on `orders` (migration
matching_0002) in the transaction of every write that changes an order's status, worker or slot,
so they are exact at every commit whatever wrote the order. `recount` computes the same figures
from the orders (what the tests compare against); `rebuild` replaces the kept ones by it, under a
lock that holds order writes back meanwhile (`flask matching rebuild-figures`).
"""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db

BOOKED = "('matched', 'kit_issued', 'in_progress')"

RECOUNT_RESULTS = """
SELECT worker_id, count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM orders WHERE worker_id IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')
GROUP BY worker_id
"""
RECOUNT_LOAD = f"""
SELECT worker_id, (slot_start AT TIME ZONE 'UTC')::date AS day, count(*) AS busy
FROM orders WHERE worker_id IS NOT NULL AND status IN {BOOKED}
GROUP BY 1, 2
"""


def recount() -> tuple[dict[int, tuple[int, int, int]], dict[tuple[int, object], int]]:
    """The figures counted from the orders: ({worker: (completed, failed, cancelled)}, {(worker, day): busy})."""
    results = {
        row.worker_id: (row.completed, row.failed, row.cancelled) for row in db.session.execute(text(RECOUNT_RESULTS))
    }
    load = {(row.worker_id, row.day): row.busy for row in db.session.execute(text(RECOUNT_LOAD))}
    return results, load


def kept() -> tuple[dict[int, tuple[int, int, int]], dict[tuple[int, object], int]]:
    """The figures as kept, in the shape of `recount` (rows of all zeros are left out)."""
    results = {
        row.worker_id: (row.completed, row.failed, row.cancelled)
        for row in db.session.execute(
            text(
                "SELECT worker_id, completed, failed, cancelled FROM matching_worker_figures"
                " WHERE completed <> 0 OR failed <> 0 OR cancelled <> 0"
            )
        )
    }
    load = {
        (row.worker_id, row.day): row.busy
        for row in db.session.execute(
            text("SELECT worker_id, day, busy FROM matching_worker_load_days WHERE busy <> 0")
        )
    }
    return results, load


def rebuild() -> tuple[int, int]:
    """Replace the kept figures by a recount; (workers, worker-days) written. Flushes, never commits.

    SHARE ROW EXCLUSIVE on orders waits for the transactions writing orders now and holds new
    writes back until the caller commits, so no order changes between the recount and the commit.
    """
    db.session.execute(text("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE"))
    db.session.execute(text("DELETE FROM matching_worker_load_days"))
    db.session.execute(text("UPDATE matching_worker_figures SET completed = 0, failed = 0, cancelled = 0"))
    workers = db.session.execute(
        text(
            f"""INSERT INTO matching_worker_figures AS f (worker_id, completed, failed, cancelled)
            {RECOUNT_RESULTS}
            ON CONFLICT (worker_id) DO UPDATE
            SET completed = EXCLUDED.completed, failed = EXCLUDED.failed, cancelled = EXCLUDED.cancelled"""
        )
    ).rowcount
    days = db.session.execute(
        text(f"INSERT INTO matching_worker_load_days (worker_id, day, busy) {RECOUNT_LOAD}")
    ).rowcount
    return workers, days


def lock_worker(worker_id: int) -> None:
    """Take the worker's figures row (made if missing) FOR UPDATE: matchers choosing the same worker
    queue here, and the one after sees the orders the one before assigned. Released at commit, or
    at the rollback of an enclosing savepoint."""
    db.session.execute(
        text(
            "INSERT INTO matching_worker_figures AS f (worker_id) VALUES (:worker)"
            " ON CONFLICT (worker_id) DO UPDATE SET completed = f.completed"
        ),
        {"worker": worker_id},
    )
