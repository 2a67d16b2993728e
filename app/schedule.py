"""Periodic work, registered in this one file."""

from __future__ import annotations

from flask import Flask
from rq.cron import CronScheduler


def register_periodic_jobs(cron: CronScheduler, app: Flask) -> None:
    from app.billing.jobs import check as billing_check
    from app.billing.runs import RUN_KINDS
    from app.orders.jobs import fail_no_shows
    from app.sweep import sweep

    config = app.config
    cron.register(sweep, queue_name="default", interval=config["SWEEP_INTERVAL_SECONDS"], name="sweep")
    cron.register(fail_no_shows, queue_name="default", interval=config["NO_SHOW_CHECK_SECONDS"], name="no-shows")
    # Billing (issue 4): each check starts a run only when its kind has due periods or payments.
    for kind in RUN_KINDS:
        cron.register(
            billing_check,
            queue_name="billing",
            args=(kind,),
            interval=config["BILLING_CHECK_SECONDS"],
            name=f"billing-{kind}",
        )
