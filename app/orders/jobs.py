"""Periodic order work: failing no-shows (US-130), folding the counts per status."""

from __future__ import annotations

import logging

from app.extensions import db
from app.orders import counts
from app.orders.services import fail_no_show, overdue_order_ids
from app.platform.jobs import job
from app.platform.schedule import every

log = logging.getLogger(__name__)


@every("NO_SHOW_CHECK_SECONDS", name="no-shows")
@job
def fail_no_shows() -> int:
    """Fail every order whose worker has not checked in by slot start + grace; one commit each."""
    failed = 0
    for order_id in overdue_order_ids():
        if fail_no_show(order_id):
            failed += 1
        db.session.commit()
    if failed:
        log.info("failed %s no-show orders", failed)
    return failed


@every("ORDER_COUNTS_FOLD_SECONDS", name="order-counts-fold")
@job
def fold_status_counts() -> int:
    """Keep the counts per status a handful of rows to sum (app.orders.counts)."""
    folded = counts.fold()
    db.session.commit()
    return folded
