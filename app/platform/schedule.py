"""Periodic work: each domain registers its periodic jobs here when its `jobs` module is imported,
and the worker's cron process registers them all with RQ's cron scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from rq.cron import CronScheduler


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: Callable
    queue: str
    interval_setting: str  # the config key holding the interval in seconds
    args: tuple = ()


periodic_jobs: dict[str, PeriodicJob] = {}


def every(interval_setting: str, *, name: str, queue: str = "default", args: tuple = ()) -> Callable:
    """Register `func` to run every `app.config[interval_setting]` seconds (once per deployment)."""

    def register(func: Callable) -> Callable:
        periodic_jobs[name] = PeriodicJob(name, func, queue, interval_setting, args)
        return func

    return register


def register_periodic_jobs(cron: CronScheduler, app: Flask) -> None:
    for periodic in periodic_jobs.values():
        cron.register(
            periodic.func,
            queue_name=periodic.queue,
            args=periodic.args,
            interval=app.config[periodic.interval_setting],
            name=periodic.name,
        )
