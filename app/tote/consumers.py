"""The tote's consumer: the only way it learns about orders (their events, docs/events.md).

order.requested opens a pool (its close time is the order's slot start), order.started (the
check-in) closes it, order.completed / order.cancelled / order.failed settle it. The consumer's
handled-event row, the settlement and its ledger postings commit together (the delivery wraps a
handler and the handled row in one savepoint), and the pool's row lock plus the settlement's
primary key make a replayed or concurrent delivery pay nobody twice.
"""

from __future__ import annotations

from app.events import Consumer
from app.events.models import Event
from app.tote import services

tote = Consumer("tote")


@tote.handles("order.requested")
def order_seen(event: Event) -> None:
    services.note_order(event.payload, event.created_at)


@tote.handles("order.started")
def order_checked_in(event: Event) -> None:
    services.close_pool(event.payload, event.created_at)


@tote.handles(*services.ENDING_EVENTS)
def order_ended(event: Event) -> None:
    services.settle_pool(event.payload, services.ENDING_EVENTS[event.type], event.created_at, event_id=event.id)
