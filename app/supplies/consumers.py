"""The supplies consumer: a kit request and a cookie request for every matched order.

On order.matched the kit (once per order) and the cookie request (once per order, ever) are
created and the consumables department is emailed; on order.reassigned the department learns
the new worker; on order.cancelled / order.failed before issue, that the kit is no longer needed.
The people named in a mail come from the event's payload, so a late delivery tells what was true
when the event happened.
"""

from __future__ import annotations

from app.accounts.models import User
from app.events import Consumer
from app.events.models import Event
from app.extensions import db
from app.notifications.services import queue_email
from app.orders.models import Order
from app.platform.urls import external_url
from app.supplies import services
from app.supplies.models import Kit

supplies = Consumer("supplies")


def _context(order: Order, event: Event, **extra) -> dict:
    worker = db.session.get(User, event.payload["worker_id"]) if event.payload.get("worker_id") else None
    return {
        "order": order,
        "order_id": order.id,
        "client_name": order.client.name,
        "worker_name": worker.name if worker else "nobody yet",
        "service": order.service_type.name,
        "consumables": list(order.service_type.consumables or []),
        "slot_start": order.slot_start,
        "slot_end": order.slot_end,
        "form_link": external_url("supply.job_form", order_id=order.id),
        "queue_link": external_url("supply.home"),
        **extra,
    }


def _tell_department(event: Event, template: str, context: dict) -> None:
    for person in services.supply_recipients():
        queue_email(
            person.email,
            template,
            {"name": person.name, **context},
            idempotency_key=f"event:{event.id}:{template}:{person.id}",
        )


@supplies.handles("order.matched")
def kit_needed(event: Event) -> None:
    order = db.session.get(Order, event.payload["order_id"])
    if order is None or order.status in services.NOT_NEEDED_STATUSES:
        return  # delivered late, after the order ended: no kit, no cookie, nothing to tell
    _kit, kit_created = services.request_kit(order)
    services.request_cookie(order)
    if kit_created:
        _tell_department(event, "kit_needed", _context(order, event))


@supplies.handles("order.reassigned")
def kit_for_new_worker(event: Event) -> None:
    order = db.session.get(Order, event.payload["order_id"])
    kit = db.session.get(Kit, event.payload["order_id"])
    if order is None or kit is None:
        return
    previous_id = event.payload.get("previous_worker_id")
    previous = db.session.get(User, previous_id) if previous_id else None
    _tell_department(
        event,
        "kit_reassigned",
        _context(
            order,
            event,
            previous_worker_name=previous.name if previous else "nobody",
            already_issued=kit.issued_at is not None,
        ),
    )


@supplies.handles("order.cancelled", "order.failed")
def kit_not_needed(event: Event) -> None:
    order = db.session.get(Order, event.payload["order_id"])
    kit = db.session.get(Kit, event.payload["order_id"])
    if order is None or kit is None or kit.issued_at is not None:
        return
    outcome = "cancelled" if event.type == "order.cancelled" else "failed"
    _tell_department(event, "kit_cancelled", _context(order, event, outcome=outcome))


@supplies.handles("kit.late")
def kit_late(event: Event) -> None:
    """The slot is near and the kit not issued: the department and the managers are told, once."""
    order = db.session.get(Order, event.payload["order_id"])
    kit = db.session.get(Kit, event.payload["order_id"])
    if order is None or kit is None or kit.issued_at is not None:
        return  # issued meanwhile: nothing to warn about
    context = _context(order, event, minutes_left=event.payload.get("minutes_left"))
    for person in services.supply_recipients() + services.manager_recipients():
        queue_email(
            person.email,
            "kit_late",
            {"name": person.name, **context},
            idempotency_key=f"event:{event.id}:kit_late:{person.id}",
        )
