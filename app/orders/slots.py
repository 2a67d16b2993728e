"""Working hours and the slots clients can book: when the company works, in its time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from app.platform.clock import company_zone, utcnow


@dataclass(frozen=True)
class WorkingHours:
    timezone: ZoneInfo
    opens: time
    closes: time
    days: frozenset[int]  # Monday is 0
    step_minutes: int
    horizon_days: int


def working_hours() -> WorkingHours:
    config = current_app.config
    opens, closes = (time.fromisoformat(part.strip()) for part in config["WORKING_HOURS"].split("-"))
    return WorkingHours(
        timezone=company_zone(),
        opens=opens,
        closes=closes,
        days=frozenset(int(day) for day in str(config["WORKING_DAYS"]).split(",")),
        step_minutes=int(config["SLOT_STEP_MINUTES"]),
        horizon_days=int(config["BOOKING_HORIZON_DAYS"]),
    )


def slot_times(hours: WorkingHours, duration_minutes: int) -> list[time]:
    """Start times offered on a working day: every step from opening, ending by closing time."""
    times = []
    start = datetime.combine(date(2000, 1, 3), hours.opens)
    last = datetime.combine(date(2000, 1, 3), hours.closes) - timedelta(minutes=duration_minutes)
    while start <= last:
        times.append(start.time())
        start += timedelta(minutes=hours.step_minutes)
    return times


def slot_problem(slot_start: datetime, duration_minutes: int, now: datetime | None = None) -> str | None:
    """Why a slot can't be booked, or None: not in the past, within working hours and days."""
    hours = working_hours()
    now = now or utcnow()
    if slot_start.tzinfo is None:
        return "The time needs a time zone."
    if slot_start <= now:
        return "Choose a time in the future."
    if slot_start > now + timedelta(days=hours.horizon_days):
        return f"Choose a time within the next {hours.horizon_days} days."
    local = slot_start.astimezone(hours.timezone)
    end = local + timedelta(minutes=duration_minutes)
    if local.weekday() not in hours.days:
        return "We don't work on that day."
    if local.time() < hours.opens or end.date() != local.date() or end.time() > hours.closes:
        return (
            f"Choose a time between {hours.opens:%H:%M} and {hours.closes:%H:%M} "
            f"(the job takes {duration_minutes} minutes)."
        )
    if (local.hour * 60 + local.minute - hours.opens.hour * 60 - hours.opens.minute) % hours.step_minutes:
        return f"Choose a start on the {hours.step_minutes}-minute grid."
    return None


def local_slot(day: date, start: time) -> datetime:
    """A date and a time in the company's time zone, as an aware datetime."""
    return datetime.combine(day, start, tzinfo=working_hours().timezone)
