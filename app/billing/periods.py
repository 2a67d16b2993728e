"""Days, weeks and months in the company's time zone, as UTC instants for queries.

A week runs Monday 00:00 to the next Monday 00:00 local time; a month from the 1st to the 1st.
Converting local midnights to UTC here is what makes a DST change give a 23- or 25-hour day.

Billing cuts a period before its end (US-220: clients are invoiced on Sunday, US-230: workers on
the last day of the month): WEEKLY_RUN_AT ("Sun 18:00": a day of the week and a local time) and
MONTHLY_RUN_AT ("18:00" on the month's last day) give each period's **cutoff**, the instant its run
may start. An invoice covers what ended from the previous period's cutoff up to its own; what ends
after the cutoff goes on the next invoice. Local times are converted with the zone's offset of that
date, so a cutoff is at the same wall-clock time across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app

from app.platform.clock import company_zone, utcnow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def local_midnight(day: date) -> datetime:
    """The instant local `day` starts, as an aware datetime (UTC-comparable)."""
    return datetime.combine(day, time(0), tzinfo=company_zone())


def local_day(moment: datetime) -> date:
    return moment.astimezone(company_zone()).date()


@dataclass(frozen=True)
class Period:
    start: date  # first local day
    end: date  # the local day after the last one

    @property
    def starts_at(self) -> datetime:
        return local_midnight(self.start)

    @property
    def ends_at(self) -> datetime:
        return local_midnight(self.end)

    def __contains__(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def day_period(day: date) -> Period:
    return Period(day, day + timedelta(days=1))


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=7))


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following)


def today() -> date:
    return local_day(utcnow())


# ---------------------------------------------------------------- billing cutoffs


def _clock_time(text: str, setting: str) -> time:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError as error:
        raise ValueError(f"{setting} must be a time like 18:00, not {text!r}") from error


def weekly_run_at(value: str | None = None) -> tuple[int, time]:
    """WEEKLY_RUN_AT ("Sun 18:00") as (weekday with Monday 0, local time)."""
    value = value if value is not None else str(current_app.config.get("WEEKLY_RUN_AT") or "Sun 18:00")
    day, _, clock = value.strip().partition(" ")
    if day[:3].lower() not in WEEKDAYS:
        raise ValueError(f"WEEKLY_RUN_AT must be a day and a time like 'Sun 18:00', not {value!r}")
    return WEEKDAYS.index(day[:3].lower()), _clock_time(clock, "WEEKLY_RUN_AT")


def monthly_run_at(value: str | None = None) -> time:
    """MONTHLY_RUN_AT ("18:00"), the local time on the month's last day."""
    value = value if value is not None else str(current_app.config.get("MONTHLY_RUN_AT") or "18:00")
    return _clock_time(value, "MONTHLY_RUN_AT")


def local_moment(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=company_zone())


def week_cutoff(week: Period) -> datetime:
    """When the week's client run may start, and what ends from then on goes on next week's invoice."""
    weekday, clock = weekly_run_at()
    return local_moment(week.start + timedelta(days=weekday), clock)


def month_cutoff(month: Period) -> datetime:
    """When the month's worker run may start (on its last day); later earnings go on next month's."""
    return local_moment(month.end - timedelta(days=1), monthly_run_at())
