"""Days, weeks and months in the company's time zone, as UTC instants for queries.

A week runs Monday 00:00 to the next Monday 00:00 local time; a month from the 1st to the 1st.
Converting local midnights to UTC here is what makes a DST change give a 23- or 25-hour day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.platform.clock import company_zone, utcnow


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


def closed_weeks(since: date, now: datetime | None = None) -> list[Period]:
    """Weeks that start on or after `since`'s week and have ended (after Sunday, local time)."""
    current = week_of(local_day(now or utcnow()))
    week = week_of(since)
    weeks = []
    while week.end <= current.start:
        weeks.append(week)
        week = week_of(week.end)
    return weeks


def closed_months(since: date, now: datetime | None = None) -> list[Period]:
    """Months from `since`'s month that have ended (after their last day, local time)."""
    current = month_of(local_day(now or utcnow()))
    month = month_of(since)
    months = []
    while month.end <= current.start:
        months.append(month)
        month = month_of(month.end)
    return months
