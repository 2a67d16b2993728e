"""Helpers of the tote tests: order events as the orders domain publishes them, delivered to the
tote's consumer through the real delivery job body (handled rows, savepoints, locks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.events import publish
from app.events.jobs import deliver
from app.tote import services
from app.tote.models import Pool

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLOT = NOW + timedelta(days=1)
STATUS_OF = {
    "order.requested": "requested",
    "order.started": "in_progress",
    "order.completed": "completed",
    "order.cancelled": "cancelled",
    "order.failed": "failed",
}


def payload(order_id: int, event_type: str, slot: datetime = SLOT, **extra) -> dict:
    return {
        "order_id": order_id,
        "status": STATUS_OF[event_type],
        "client_id": 1,
        "worker_id": None,
        "service_type_id": 1,
        "service": "House cleaning",
        "price_cents": None,
        "slot_start": slot.isoformat(),
        "slot_end": (slot + timedelta(hours=1)).isoformat(),
        "at": NOW.isoformat(),
        **extra,
    }


def order_event(order_id: int, event_type: str, slot: datetime = SLOT, at: datetime | None = None, run=True):
    """Publish an order event (dated `at`) and deliver it to the tote; returns the event."""
    if at is None:  # the request now, anything later a little after the test's bets
        at = NOW if event_type == "order.requested" else NOW + timedelta(hours=2)
    event = publish(event_type, "order", order_id, payload(order_id, event_type, slot), at=at, deliver=False)
    if run:
        deliver("tote", "order", str(order_id))
    return event


def open_pool(order_id: int, slot: datetime = SLOT) -> Pool:
    order_event(order_id, "order.requested", slot)
    return services.locked_pool_for_order(order_id)


def bet(user, pool: Pool, outcome: str, amount: str, at: datetime = NOW):
    return services.place_bet(user, pool.id, outcome, amount, now=at)
