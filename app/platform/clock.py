"""The one place the app reads the time (so tests can travel in it with time-machine), and the
company's time zone, in which slots, billing periods and dates on pages are computed."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    return datetime.now(UTC)


def company_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["COMPANY_TIMEZONE"])
