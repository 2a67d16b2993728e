"""Periodic work, registered in this one file (the sweep now; billing joins it later)."""

from __future__ import annotations

from flask import Flask
from rq.cron import CronScheduler


def register_periodic_jobs(cron: CronScheduler, app: Flask) -> None:
    from app.sweep import sweep

    cron.register(sweep, queue_name="default", interval=app.config["SWEEP_INTERVAL_SECONDS"], name="sweep")
