"""The order's life: requesting help, matching's assignment, the worker's steps, cancelling, no-shows.

Working hours and slots are in app.orders.slots, service types in app.orders.service_types.

Services flush and never commit; they publish an event for every change (app.orders.states).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.events import publish
from app.extensions import db
from app.orders import pricing
from app.orders.bookings import clashes
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.slots import slot_problem
from app.orders.states import IllegalTransition, lock, move, order_payload
from app.platform.clock import company_zone, utcnow
from app.platform.validation import DuplicateError, FieldErrors, ValidationError

S = OrderStatus
NO_SHOW_REASON = "no_show"  # the worker had the kit but did not check in: the worker's doing
# Nobody checked in because the department never issued the kit (check-in needs it): the company's
# doing, so the worker is not fined and the client not charged (docs/decisions.md).
KIT_NOT_ISSUED_REASON = "kit_not_issued"
# Why an automatic failure happened, in words for people.
FAILURE_REASONS = {
    NO_SHOW_REASON: "No-show: the worker did not check in",
    KIT_NOT_ISSUED_REASON: "The kit was never issued, so the job could not start",
}

# ---------------------------------------------------------------- requesting help (US-010, US-020)

# The request form's idempotency key: what `secrets.token_urlsafe` makes, within the column's size.
REQUEST_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
REQUEST_TOKEN_CONSTRAINT = "uq_orders_client_id_request_token"


class AlreadyRequested(Exception):
    """This request form was sent before: the order it made is `order_id` (nothing new was made)."""

    def __init__(self, order_id: int) -> None:
        super().__init__(f"already requested as order #{order_id}")
        self.order_id = order_id


def _order_for_token(client_id: int, request_token: str) -> int | None:
    return db.session.scalar(select(Order.id).where(Order.client_id == client_id, Order.request_token == request_token))


def request_order(
    client: User,
    *,
    service_type_id: int | None,
    description: str,
    slot_start: datetime | None,
    address: str | None = None,
    rebooked_from: Order | None = None,
    request_token: str | None = None,
) -> Order:
    """A client's request; matching picks it up after the commit (order.requested).

    `request_token` is the form's idempotency key: a second request with the same key (a double
    click, a resubmit after going back, two submits at the same moment) makes nothing and raises
    AlreadyRequested with the first order. The unique (client, token) constraint decides races:
    the later insert waits for the earlier transaction and fails if it committed.
    """
    if request_token is not None:
        if not REQUEST_TOKEN.fullmatch(request_token):
            raise ValidationError(status="This form is out of date. Reload the page and send it again.")
        existing = _order_for_token(client.id, request_token)
        if existing is not None:
            raise AlreadyRequested(existing)
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
        request_token=request_token,
    )
    if request_token is None:
        db.session.add(order)
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():
                db.session.add(order)
        except IntegrityError as exc:
            if getattr(exc.orig.diag, "constraint_name", None) != REQUEST_TOKEN_CONSTRAINT:
                raise
            raise AlreadyRequested(_order_for_token(client.id, request_token)) from None
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
    # The flag follows the worker who has the order now (a manager may knowingly double-book).
    order.double_booked = bool(clashes(worker.id, order.slot_start, order.slot_end, exclude_order_id=order.id))
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


def checkin_opens_at(order: Order) -> datetime | None:
    """When the worker may check in: CHECKIN_OPENS_MINUTES before the slot (None: any time)."""
    minutes = current_app.config.get("CHECKIN_OPENS_MINUTES")
    return order.slot_start - timedelta(minutes=minutes) if minutes is not None else None


def start(order: Order, worker: User, checkin_photo: str) -> None:
    """Check-in with a photo and "Started" (US-180)."""
    lock(order)
    _own(order, worker)
    if order.status == S.MATCHED:
        raise IllegalTransition(status="Collect the kit first: the consumables department has not issued it yet.")
    opens = checkin_opens_at(order)
    if opens is not None and utcnow() < opens:
        local = opens.astimezone(company_zone())
        raise IllegalTransition(status=f"Check-in opens at {local:%H:%M} on {local:%a %d %b}, shortly before the slot.")
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
    """Fail one overdue order (re-checked under its lock: the worker may just have checked in).

    The cause is recorded: a no-show if the kit was issued, else the kit that was never issued."""
    order = db.session.get(Order, order_id)
    if order is None:
        return False
    lock(order)
    grace = timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])
    if order.status not in (S.MATCHED, S.KIT_ISSUED) or order.slot_start + grace > (now or utcnow()):
        return False
    reason = KIT_NOT_ISSUED_REASON if order.status == S.MATCHED else NO_SHOW_REASON
    order.finish_reason = reason
    move(order, S.FAILED, reason=reason)
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
