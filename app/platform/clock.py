"""The one place the app reads the time, so tests can travel in it (time-machine)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
