"""Periodic work, registered in this one file (billing joins it later)."""

from __future__ import annotations

from flask import Flask
from rq.cron import CronScheduler


def register_periodic_jobs(cron: CronScheduler, app: Flask) -> None:
    from app.orders.jobs import fail_no_shows
    from app.sweep import sweep

    config = app.config
    cron.register(sweep, queue_name="default", interval=config["SWEEP_INTERVAL_SECONDS"], name="sweep")
    cron.register(fail_no_shows, queue_name="default", interval=config["NO_SHOW_CHECK_SECONDS"], name="no-shows")
