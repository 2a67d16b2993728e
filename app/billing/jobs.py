"""Billing jobs on the `billing` queue: a run's work, and the periodic checks of each run kind."""

from __future__ import annotations

import logging
from datetime import datetime

from app.billing.processes import runs
from app.billing.settings import automatic_runs
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.jobs import job
from app.platform.schedule import every
from app.platform.validation import ValidationError

log = logging.getLogger(__name__)


@job
def execute_run(run_id: int, now: str | None = None) -> dict | None:
    """Do the work of a started run; `now` (ISO, tests) is the business moment it bills up to."""
    moment = datetime.fromisoformat(now) if now else None
    run = runs.execute(run_id, moment)
    return run.summary if run is not None else None


@job
def check(kind: str) -> int | None:
    """Every BILLING_CHECK_SECONDS: start a run of this kind when it has something to do.

    Each run finds its own due periods and payments, so checking often is harmless. With automatic
    runs switched off on /manage/billing only the daily close is started; the rest waits for a manager.
    """
    if kind != runs.DAILY_CLOSE and not automatic_runs():
        db.session.rollback()
        return None
    if not runs.has_work(kind, utcnow()):
        db.session.rollback()
        return None
    try:
        run = runs.start_run(kind, None)
    except ValidationError:  # one is running already
        db.session.rollback()
        return None
    db.session.commit()  # the run's job is enqueued after this commit
    log.info("started billing run #%s (%s)", run.id, kind)
    return run.id


# Each check starts a run only when its kind has due periods or payments.
for _kind in runs.RUN_KINDS:
    every("BILLING_CHECK_SECONDS", name=f"billing-{_kind}", queue="billing", args=(_kind,))(check)


@job
def retry_parked(park_id: int) -> bool:
    """A manager's retry of a parked party: post its failing event now and, if it goes through, bill it."""
    return runs.retry_parked(park_id)
