"""Appending events to the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from app.events.jobs import enqueue_delivery
from app.events.models import Event
from app.extensions import db
from app.platform.unit_of_work import after_commit

_left_to_the_sweep: ContextVar[bool] = ContextVar("events_left_to_the_sweep", default=False)


@contextmanager
def deliveries_left_to_the_sweep() -> Iterator[None]:
    """Inside this block, `publish` enqueues no delivery job (as with `deliver=False`): for bulk
    loads through the real services, whose events must not queue ahead of everyone's mail."""
    token = _left_to_the_sweep.set(True)
    try:
        yield
    finally:
        _left_to_the_sweep.reset(token)


def publish(
    event_type: str,
    aggregate_type: str,
    aggregate_id: object,
    payload: dict,
    *,
    at: datetime | None = None,
    deliver: bool = True,
) -> Event:
    """Append an event to the current transaction; its delivery is enqueued after the commit.

    `at` dates an event that happened earlier (the demo's history). `deliver=False` leaves the
    delivery to the sweep: a bulk load must not queue thousands of jobs ahead of everyone's mail.
    """
    event = Event(
        type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload,
    )
    if at is not None:
        event.created_at = at
    db.session.add(event)
    db.session.flush()
    if deliver and not _left_to_the_sweep.get():
        after_commit(lambda: enqueue_delivery(event_type, aggregate_type, str(aggregate_id)))
    return event
