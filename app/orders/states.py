"""The order status machine, in one place.

    requested -> matched -> kit_issued -> in_progress -> completed
    any state before completed -> cancelled (client or manager, with a reason) or failed

Each step publishes its event (EVENT_TYPES) with the payload of `order_payload()`: that payload is
the contract that notifications, supplies, billing, quality and the tote consume (docs/events.md).
"""

from __future__ import annotations

from app.events import publish
from app.events.models import Event
from app.extensions import db
from app.orders.models import STATUS_LABELS, Order, OrderStatus
from app.platform.clock import utcnow
from app.platform.validation import ValidationError

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.REQUESTED: frozenset({S.MATCHED, S.CANCELLED, S.FAILED}),
    S.MATCHED: frozenset({S.KIT_ISSUED, S.CANCELLED, S.FAILED}),
    S.KIT_ISSUED: frozenset({S.IN_PROGRESS, S.CANCELLED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
# The timestamp each status sets on the order.
STAMPS = {
    S.MATCHED: "matched_at",
    S.KIT_ISSUED: "kit_issued_at",
    S.IN_PROGRESS: "started_at",
    S.COMPLETED: "finished_at",
    S.CANCELLED: "finished_at",
    S.FAILED: "finished_at",
}


# The event each status publishes: its own name, except that work starting is "order.started".
EVENT_TYPES = {status: f"order.{status.value}" for status in S} | {S.IN_PROGRESS: "order.started"}


class IllegalTransition(ValidationError):
    """The order cannot make this step from where it is; nothing was changed."""


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def order_payload(order: Order, **extra) -> dict:
    """The documented payload of every order.* event (see docs/events.md)."""
    payload = {
        "order_id": order.id,
        "status": order.status,
        "client_id": order.client_id,
        "worker_id": order.worker_id,
        "service_type_id": order.service_type_id,
        "service": order.service_type.name if order.service_type else None,
        "price_cents": order.price_cents,
        "base_price_cents": order.base_price_cents,
        "discount_percent": order.discount_percent,
        "slot_start": iso(order.slot_start),
        "slot_end": iso(order.slot_end),
        "rebooked_from_id": order.rebooked_from_id,
        "at": iso(utcnow()),
    }
    payload.update(extra)
    return payload


def lock(order: Order) -> Order:
    """Reload the order under a row lock: two steps on one order never interleave."""
    db.session.flush()
    db.session.refresh(order, with_for_update=True)
    return order


def check(order: Order, target: OrderStatus) -> None:
    current = OrderStatus(order.status)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            status=f"An order that is {STATUS_LABELS[current].lower()} cannot become {STATUS_LABELS[target].lower()}."
        )


def move(order: Order, target: OrderStatus, **extra) -> Event:
    """Take one legal step (under a row lock) and publish its event; refuse anything else."""
    lock(order)
    check(order, target)
    order.status = target
    setattr(order, STAMPS[target], utcnow())
    db.session.flush()
    return publish(EVENT_TYPES[target], "order", order.id, order_payload(order, **extra))
