"""Order notifications (US-302, US-303, US-306, US-131): the notifications consumer's order.* handlers.

Every status change reaches the client; the worker learns where, when and what when an order
becomes theirs, and when to collect the kit. Who gets a mail comes from the event's payload
(`client_id`, `worker_id`, `previous_worker_id`), so a late delivery still tells the people
concerned at the time; the order row supplies what does not change (address, description).
Idempotency keys are derived from the event id and the template, one message per recipient.
"""

from __future__ import annotations

import logging

from flask import current_app

from app.accounts.models import User
from app.events.models import Event
from app.extensions import db
from app.notifications.consumers import notifications
from app.notifications.services import queue_email
from app.orders.models import Order
from app.orders.services import FAILURE_REASONS, KIT_NOT_ISSUED_REASON, NO_SHOW_REASON
from app.platform.urls import external_url

log = logging.getLogger(__name__)


def rebook_link(order_id: int) -> str:
    """US-131: the page where the client books a copy of a failed order for another date."""
    return external_url("clients.rebook_order", order_id=order_id)


def _user(user_id) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _worker_facts(worker: User) -> dict:
    profile = worker.worker_profile
    return {
        "worker_name": worker.name,
        "breed": profile.breed if profile and profile.breed else "",
        "coat": profile.coat_colour if profile and profile.coat_colour else "",
    }


def _context(order: Order, event: Event, person: User, **extra) -> dict:
    return {
        "name": person.name,
        "order_id": order.id,
        "service": order.service_type.name,
        "description": order.description,
        "address": order.address,
        "client_name": order.client.name,
        "slot_start": order.slot_start,
        "slot_end": order.slot_end,
        "price_cents": event.payload.get("price_cents"),
        "reason": event.payload.get("reason") or order.finish_reason or "",
        **extra,
    }


def _send(event: Event, template: str, person: User | None, order: Order, **extra) -> None:
    if person is None:
        return
    queue_email(person.email, template, _context(order, event, person, **extra), f"event:{event.id}:{template}")


def _order(event: Event) -> Order | None:
    return db.session.get(Order, event.payload["order_id"])


def _client_links(_order: Order) -> dict:
    return {"orders_link": external_url("clients.home")}


def _worker_links(_order: Order) -> dict:
    return {"work_link": external_url("workers.home")}


@notifications.handles("order.requested")
def order_requested(event: Event) -> None:
    order = _order(event)
    if order is not None:
        _send(event, "order_requested", _user(event.payload["client_id"]), order, **_client_links(order))


@notifications.handles("order.matched")
def order_matched(event: Event) -> None:
    """US-306: the worker learns where, when and what; the client learns who is coming."""
    order = _order(event)
    worker = _user(event.payload.get("worker_id"))
    if order is None or worker is None:
        return
    _send(event, "order_matched_worker", worker, order, **_worker_links(order))
    _send(event, "order_matched_client", _user(event.payload["client_id"]), order, **_worker_facts(worker))


@notifications.handles("order.confirmed")
def order_confirmed(event: Event) -> None:
    """US-302: the worker confirmed the assignment."""
    order = _order(event)
    worker = _user(event.payload.get("worker_id"))
    if order is not None and worker is not None:
        _send(event, "order_confirmed", _user(event.payload["client_id"]), order, **_worker_facts(worker))


@notifications.handles("order.kit_issued")
def order_kit_issued(event: Event) -> None:
    """US-303: the worker collects the kit; the client sees the status change."""
    order = _order(event)
    if order is None:
        return
    _send(event, "kit_ready", _user(event.payload.get("worker_id")), order, **_worker_links(order))
    _send(event, "order_kit_issued", _user(event.payload["client_id"]), order, **_client_links(order))


@notifications.handles("order.started")
def order_started(event: Event) -> None:
    order = _order(event)
    worker = _user(event.payload.get("worker_id"))
    if order is not None:
        facts = _worker_facts(worker) if worker else {"worker_name": "Your worker", "breed": "", "coat": ""}
        _send(event, "order_started", _user(event.payload["client_id"]), order, **facts)


@notifications.handles("order.completed")
def order_completed(event: Event) -> None:
    order = _order(event)
    if order is not None:
        _send(event, "order_completed", _user(event.payload["client_id"]), order, **_client_links(order))


@notifications.handles("order.cancelled")
def order_cancelled(event: Event) -> None:
    order = _order(event)
    if order is None:
        return
    _send(event, "order_cancelled_client", _user(event.payload["client_id"]), order, **_client_links(order))
    _send(event, "order_cancelled_worker", _user(event.payload.get("worker_id")), order, **_worker_links(order))


@notifications.handles("order.reassigned")
def order_reassigned(event: Event) -> None:
    """The new worker learns where, when and what; the previous one that they are not needed."""
    order = _order(event)
    worker = _user(event.payload.get("worker_id"))
    if order is None or worker is None:
        return
    _send(event, "order_reassigned_worker", worker, order, **_worker_links(order))
    _send(event, "order_released_worker", _user(event.payload.get("previous_worker_id")), order)
    _send(event, "order_reassigned_client", _user(event.payload["client_id"]), order, **_worker_facts(worker))


@notifications.handles("order.failed")
def order_failed(event: Event) -> None:
    """A failed order. The client is told (for a failure that was not theirs, with the link to book
    a copy, US-131); the worker learns it failed and whether they are fined (US-302, US-240)."""
    order = _order(event)
    if order is None:
        return
    reason = event.payload.get("reason") or ""
    automatic = reason in (NO_SHOW_REASON, KIT_NOT_ISSUED_REASON)
    _send(
        event,
        "order_failed",
        _user(event.payload["client_id"]),
        order,
        no_show=reason == NO_SHOW_REASON,
        kit_not_issued=reason == KIT_NOT_ISSUED_REASON,
        reason=FAILURE_REASONS.get(reason, reason),
        rebook_link=rebook_link(order.id) if automatic else "",
        **_client_links(order),
    )
    fined = reason != KIT_NOT_ISSUED_REASON
    _send(
        event,
        "order_failed_worker",
        _user(event.payload.get("worker_id")),
        order,
        no_show=reason == NO_SHOW_REASON,
        reason=FAILURE_REASONS.get(reason, reason),
        fine_cents=current_app.config["FAILED_ORDER_FINE_CENTS"] if fined else 0,
        **_worker_links(order),
    )
