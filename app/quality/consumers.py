"""The quality consumer: ended orders' facts, and the queue of cancelled and failed ones (US-200).

`order.completed` is recorded so random audits (US-190) know the completed orders;
`order.cancelled` and `order.failed` also put the order in the queue, once (the queue's unique
order id; the handled-event row makes a replay a no-op before it gets there).
"""

from __future__ import annotations

from app.events import Consumer
from app.events.models import Event
from app.quality import services

quality = Consumer("quality")


@quality.handles("order.completed", "order.cancelled", "order.failed")
def order_ended(event: Event) -> None:
    services.record_order_end(event.type, event.payload, event.id)
