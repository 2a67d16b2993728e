"""What a client can book (US-020): working days within the horizon, and on a day the start times
at which some worker who could do the service is free for its whole duration.

"Could do" is what matching looks for: an active worker with one of the service's skills among
their strengths, or, when nobody has them, any active worker (matching's fallback, US-073). "Free"
means no assigned order (matched, kit issued, in progress) overlaps the slot. One statement for the
candidates and one for their busy times, whatever the number of workers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import String, and_, select
from sqlalchemy.dialects.postgresql import array

from app.accounts.models import User, UserRole, WorkerProfile
from app.extensions import db
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.slots import WorkingHours, slot_times, working_hours
from app.platform.clock import utcnow

ASSIGNED = (OrderStatus.MATCHED, OrderStatus.KIT_ISSUED, OrderStatus.IN_PROGRESS)


def bookable_days(hours: WorkingHours | None = None, now: datetime | None = None) -> list[date]:
    """Working days from today to the end of the booking horizon (company time zone)."""
    hours = hours or working_hours()
    today = (now or utcnow()).astimezone(hours.timezone).date()
    days = (today + timedelta(days=offset) for offset in range(hours.horizon_days + 1))
    return [day for day in days if day.weekday() in hours.days]


def _capable_workers(service: ServiceType) -> list[int]:
    active = select(User.id).join(UserRole, and_(UserRole.user_id == User.id, UserRole.role == "worker"))
    active = active.where(User.active.is_(True))
    if service.skills:
        skilled = list(
            db.session.scalars(
                active.join(WorkerProfile, WorkerProfile.user_id == User.id).where(
                    WorkerProfile.strengths.op("&&")(array(list(service.skills), type_=String(60)))
                )
            )
        )
        if skilled:
            return skilled
    return list(db.session.scalars(active))


def bookable_times(service: ServiceType, day: date, now: datetime | None = None) -> list[time]:
    """Start times on `day` that are in the future, inside the horizon, and with a capable worker free."""
    hours = working_hours()
    now = now or utcnow()
    if day not in bookable_days(hours, now):
        return []
    duration = timedelta(minutes=service.duration_minutes)
    starts = [
        datetime.combine(day, start, tzinfo=hours.timezone) for start in slot_times(hours, service.duration_minutes)
    ]
    starts = [start for start in starts if now < start <= now + timedelta(days=hours.horizon_days)]
    workers = _capable_workers(service)
    if not starts or not workers:
        return []
    day_start, day_end = starts[0], starts[-1] + duration
    busy: dict[int, list[tuple[datetime, datetime]]] = {worker: [] for worker in workers}
    rows = db.session.execute(
        select(Order.worker_id, Order.slot_start, Order.slot_end).where(
            Order.worker_id.in_(workers),
            Order.status.in_(ASSIGNED),
            Order.slot_start < day_end,
            Order.slot_end > day_start,
        )
    )
    for worker_id, start, end in rows:
        busy[worker_id].append((start, end))

    def someone_free(start: datetime) -> bool:
        end = start + duration
        return any(all(end <= taken_start or start >= taken_end for taken_start, taken_end in busy[w]) for w in workers)

    return [start.time() for start in starts if someone_free(start)]
