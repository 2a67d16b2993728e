"""Order services: service types, requesting help, the worker's steps, cancelling, no-shows.

Services flush and never commit; they publish an event for every change (app.orders.states).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.events import publish
from app.extensions import db
from app.orders import pricing
from app.orders.models import DEFAULT_BASE_PRICE_CENTS, Order, OrderStatus, ServiceType
from app.orders.states import IllegalTransition, lock, move, order_payload
from app.platform.clock import utcnow
from app.platform.validation import DuplicateError, FieldErrors, ValidationError

S = OrderStatus
NO_SHOW_REASON = "no_show"


# ---------------------------------------------------------------- working hours


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
        timezone=ZoneInfo(config["COMPANY_TIMEZONE"]),
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


# ---------------------------------------------------------------- service types (US-021)


def _clean_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    items = []
    for item in value:
        item = str(item).strip()
        if item and item not in items:
            items.append(item)
    return items


def save_service_type(
    service_type: ServiceType | None,
    *,
    name: str,
    description: str = "",
    base_price_cents: int | None = DEFAULT_BASE_PRICE_CENTS,
    duration_minutes: int | None = 120,
    skills=None,
    consumables=None,
) -> ServiceType:
    """Create (service_type None) or edit a service type."""
    errors = FieldErrors()
    name = (name or "").strip()
    if not name:
        errors.add("name", "A name is required.")
    elif len(name) > 120:
        errors.add("name", "At most 120 characters.")
    if base_price_cents is None or base_price_cents < 0:
        errors.add("base_price", "The price must be zero or more.")
    if duration_minutes is None or not 15 <= duration_minutes <= 12 * 60:
        errors.add("duration_minutes", "Between 15 minutes and 12 hours.")
    skills = [skill.lower() for skill in _clean_list(skills)]
    consumables = _clean_list(consumables)
    if any(len(skill) > 60 for skill in skills):
        errors.add("skills", "Each skill at most 60 characters.")
    if any(len(item) > 120 for item in consumables):
        errors.add("consumables", "Each item at most 120 characters.")
    errors.raise_if_any()
    clash = db.session.scalar(
        select(ServiceType).where(
            func.lower(ServiceType.name) == name.lower(), ServiceType.id != (service_type.id if service_type else -1)
        )
    )
    if clash is not None:
        raise DuplicateError(name="A service type with this name exists.")
    if service_type is None:
        service_type = ServiceType()
        db.session.add(service_type)
    service_type.name = name
    service_type.description = (description or "").strip()
    service_type.base_price_cents = base_price_cents
    service_type.duration_minutes = duration_minutes
    service_type.skills = skills
    service_type.consumables = consumables
    db.session.flush()
    return service_type


def retire_service_type(service_type: ServiceType, retired: bool = True) -> None:
    """Retired types can't be ordered; old orders keep them."""
    service_type.retired_at = utcnow() if retired else None
    db.session.flush()


def orderable_service_types() -> list[ServiceType]:
    return list(
        db.session.scalars(select(ServiceType).where(ServiceType.retired_at.is_(None)).order_by(ServiceType.name))
    )


# ---------------------------------------------------------------- requesting help (US-010, US-020)


def request_order(
    client: User,
    *,
    service_type_id: int | None,
    description: str,
    slot_start: datetime | None,
    address: str | None = None,
    rebooked_from: Order | None = None,
) -> Order:
    """A client's request; matching picks it up after the commit (order.requested)."""
    errors = FieldErrors()
    service_type = db.session.get(ServiceType, service_type_id) if service_type_id else None
    if service_type is None:
        errors.add("service_type", "Choose a service.")
    elif service_type.retired and rebooked_from is None:
        errors.add("service_type", "This service is no longer offered.")
    description = (description or "").strip()
    if not description:
        errors.add("description", "Tell us what you need help with.")
    elif len(description) > 2000:
        errors.add("description", "At most 2,000 characters.")
    if address is None or not address.strip():
        address = client.client_profile.address if client.client_profile else ""
    address = address.strip()
    if not address:
        errors.add("address", "Where should the worker come?")
    elif len(address) > 500:
        errors.add("address", "At most 500 characters.")
    if slot_start is None:
        errors.add("slot", "Choose a date and time.")
    elif service_type is not None:
        problem = slot_problem(slot_start, service_type.duration_minutes)
        if problem:
            errors.add("slot", problem)
    errors.raise_if_any()

    order = Order(
        client=client,
        service_type=service_type,
        description=description,
        address=address,
        slot_start=slot_start,
        slot_end=slot_start + timedelta(minutes=service_type.duration_minutes),
        status=S.REQUESTED,
        rebooked_from=rebooked_from,
    )
    db.session.add(order)
    db.session.flush()
    publish("order.requested", "order", order.id, order_payload(order, description=description, address=address))
    return order


def excluded_workers(order: Order) -> set[int]:
    """Workers a copy must not get again: everyone who failed an order of its chain (US-132)."""
    excluded = set()
    previous = order.rebooked_from
    while previous is not None:
        if previous.worker_id is not None:
            excluded.add(previous.worker_id)
        previous = previous.rebooked_from
    return excluded


def assign_worker(order: Order, worker: User) -> None:
    """Matching's result: the worker is assigned and the price fixed with today's discount (US-050)."""
    lock(order)
    if order.status != S.REQUESTED:
        raise IllegalTransition(status=f"Only a requested order can be matched (this one is {order.status}).")
    quote = pricing.quote(order.client_id, order.service_type)
    order.worker = worker
    order.base_price_cents = quote.base_cents
    order.discount_percent = quote.discount_percent
    order.price_cents = quote.price_cents
    move(order, S.MATCHED)


def reassign(order: Order, worker: User, reason: str, actor: User) -> None:
    """A manager gives the order to another worker, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(reason="Say why the order is reassigned.")
    if not worker.has_role("worker") or not worker.active:
        raise ValidationError(worker="Choose an active worker.")
    lock(order)
    if order.status not in (S.MATCHED, S.KIT_ISSUED):
        raise IllegalTransition(status="Only a matched order whose work has not started can be reassigned.")
    if worker.id == order.worker_id:
        raise ValidationError(worker="This worker already has the order.")
    previous = order.worker_id
    order.worker = worker
    order.confirmed_at = None
    db.session.flush()
    publish(
        "order.reassigned",
        "order",
        order.id,
        order_payload(order, previous_worker_id=previous, reason=reason, by_user_id=actor.id),
    )


# ---------------------------------------------------------------- the worker's day (US-140, US-180)


def _own(order: Order, worker: User) -> None:
    if order.worker_id != worker.id:
        raise IllegalTransition(status="This order is not assigned to you.")


def confirm(order: Order, worker: User) -> None:
    """The worker confirms the assignment; the client is told (US-302)."""
    lock(order)
    _own(order, worker)
    if order.status not in (S.MATCHED, S.KIT_ISSUED):
        raise IllegalTransition(status="Only an upcoming order can be confirmed.")
    if order.confirmed_at is not None:
        raise IllegalTransition(status="You have already confirmed this order.")
    order.confirmed_at = utcnow()
    db.session.flush()
    publish("order.confirmed", "order", order.id, order_payload(order))


def issue_kit(order: Order) -> None:
    move(order, S.KIT_ISSUED)


def start(order: Order, worker: User, checkin_photo: str) -> None:
    """Check-in with a photo and "Started" (US-180)."""
    lock(order)
    _own(order, worker)
    if order.status == S.MATCHED:
        raise IllegalTransition(status="Collect the kit first: the consumables department has not issued it yet.")
    order.checkin_photo = checkin_photo
    move(order, S.IN_PROGRESS, checkin_photo=True)


def complete(order: Order, worker: User, report_photo: str) -> None:
    """The photo of the paper report signed by the client ends the job (US-180)."""
    lock(order)
    _own(order, worker)
    order.report_photo = report_photo
    move(order, S.COMPLETED)


def cancel(order: Order, actor: User, reason: str) -> None:
    """A client (their own order) or a manager cancels before completion, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(reason="Say why the order is cancelled.")
    if len(reason) > 1000:
        raise ValidationError(reason="At most 1,000 characters.")
    if not actor.has_role("manager") and order.client_id != actor.id:
        raise IllegalTransition(status="Only the client or a manager can cancel this order.")
    lock(order)
    order.finish_reason = reason
    order.finished_by = actor
    move(order, S.CANCELLED, reason=reason, by_user_id=actor.id)


def fail(order: Order, reason: str, actor: User | None = None) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(reason="Say why the order failed.")
    lock(order)
    order.finish_reason = reason
    order.finished_by = actor
    move(order, S.FAILED, reason=reason, by_user_id=actor.id if actor else None)


# ---------------------------------------------------------------- no-shows (US-130..132)


def overdue_order_ids(now: datetime | None = None) -> list[int]:
    """Orders whose worker has not checked in by the slot start plus the grace period."""
    grace = timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])
    cutoff = (now or utcnow()) - grace
    return list(
        db.session.scalars(
            select(Order.id)
            .where(Order.status.in_([S.MATCHED, S.KIT_ISSUED]), Order.slot_start <= cutoff)
            .order_by(Order.slot_start)
        )
    )


def fail_no_show(order_id: int, now: datetime | None = None) -> bool:
    """Fail one overdue order (re-checked under its lock: the worker may just have checked in)."""
    order = db.session.get(Order, order_id)
    if order is None:
        return False
    lock(order)
    grace = timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])
    if order.status not in (S.MATCHED, S.KIT_ISSUED) or order.slot_start + grace > (now or utcnow()):
        return False
    order.finish_reason = NO_SHOW_REASON
    move(order, S.FAILED, reason=NO_SHOW_REASON)
    return True


def rebook(failed: Order, client: User, slot_start: datetime | None) -> Order:
    """US-132: a copy of a failed order for a new date; everything else is kept."""
    if failed.client_id != client.id:
        raise IllegalTransition(status="This order is not yours.")
    if failed.status != S.FAILED:
        raise IllegalTransition(status="Only a failed order can be booked again.")
    already = db.session.scalar(select(Order).where(Order.rebooked_from_id == failed.id))
    if already is not None:
        raise DuplicateError(slot=f"This order was already booked again as order #{already.id}.")
    try:
        with db.session.begin_nested():
            return request_order(
                client,
                service_type_id=failed.service_type_id,
                description=failed.description,
                slot_start=slot_start,
                address=failed.address,
                rebooked_from=failed,
            )
    except IntegrityError:  # a second request at the same moment lost the race
        raise DuplicateError(slot="This order was already booked again.") from None
