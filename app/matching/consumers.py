"""The matching consumer: matches every requested order after its commit (US-060..073)."""

from __future__ import annotations

import logging

from app.events import Consumer
from app.events.models import Event
from app.extensions import db
from app.orders.models import Order

log = logging.getLogger(__name__)

matching = Consumer("matching")


@matching.handles("order.requested")
def on_order_requested(event: Event) -> None:
    """Rank the workers, record the run, assign the best (order.matched follows); flush only.

    An order that is gone or no longer requested is left alone, so a repeated delivery changes
    nothing. With no active worker the run is recorded with a note and the order stays requested.
    """
    from app.matching.services import match_order

    order = db.session.get(Order, int(event.payload["order_id"]))
    if order is None:
        return
    run = match_order(order)
    if run is not None and run.chosen_worker_id is None:
        log.warning("order %s stays requested: %s", order.id, run.note)
