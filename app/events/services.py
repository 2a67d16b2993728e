from __future__ import annotations

from app.events.models import Event
from app.extensions import db
from app.unit_of_work import after_commit


def publish(event_type: str, aggregate_type: str, aggregate_id: object, payload: dict) -> Event:
    """Append an event to the current transaction; its delivery is enqueued after the commit."""
    event = Event(
        type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload,
    )
    db.session.add(event)
    db.session.flush()

    from app.events.jobs import enqueue_delivery

    after_commit(lambda: enqueue_delivery(event_type, aggregate_type, str(aggregate_id)))
    return event
