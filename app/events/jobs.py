"""Delivery of events to consumers, run by RQ workers on the `events` queue."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert

from app.events.models import ConsumerWatermark, Event, EventFailure, HandledEvent
from app.events.registry import Deferred, consumers, consumers_of
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.jobs import job
from app.platform.queues import enqueue, enqueue_many
from app.platform.schedule import every
from app.platform.sweep import sweeper

log = logging.getLogger(__name__)

DELIVER = "app.events.jobs.deliver"


def enqueue_delivery(event_type: str, aggregate_type: str, aggregate_id: str) -> None:
    """One delivery job per consumer of the event, in one round trip to Redis."""
    enqueue_many(
        "events", DELIVER, [(consumer.name, aggregate_type, aggregate_id) for consumer in consumers_of(event_type)]
    )


def pending_events(consumer_name: str, *, after_watermark: bool = False):
    """Events of the consumer's types that it has not handled yet.

    `after_watermark` looks only above the consumer's watermark (every event up to it is handled),
    which keeps the look short however long the history is.
    """
    consumer = consumers[consumer_name]
    query = select(Event).where(
        Event.type.in_(consumer.event_types),
        ~exists().where(and_(HandledEvent.consumer == consumer_name, HandledEvent.event_id == Event.id)),
    )
    if after_watermark:
        query = query.where(Event.id > handled_through(consumer_name))
    return query


def handled_through(consumer_name: str) -> int:
    return (
        db.session.scalar(select(ConsumerWatermark.handled_through).where(ConsumerWatermark.consumer == consumer_name))
        or 0
    )


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


@job
def deliver(consumer_name: str, aggregate_type: str, aggregate_id: str) -> int:
    """Hand the aggregate's pending events to one consumer, oldest first; returns how many."""
    return _deliver(consumer_name, aggregate_type, aggregate_id, depth=0)


# How many earlier aggregates one delivery may walk to before it leaves the wait to a timer.
MAX_EARLIER_DELIVERIES = 4


def _deliver(consumer_name: str, aggregate_type: str, aggregate_id: str, depth: int) -> int:
    """A transaction-scoped advisory lock serialises workers on the same (consumer, aggregate), so
    the order holds even when deliveries are enqueued twice. A failure stops the walk: later
    events of this aggregate wait until the failed one succeeds.

    When the consumer's guard defers an event behind an earlier one of another aggregate, this
    job delivers that aggregate first (its lock taken only after ours is released, always for an
    earlier event, so two jobs cannot wait for each other) and comes back; only if the earlier
    event cannot be handled now does the deferred one wait for a timer.
    """
    consumer = consumers[consumer_name]
    session = db.session
    handled = 0
    while True:
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:consumer), hashtext(:aggregate))"),
            {"consumer": consumer_name, "aggregate": f"{aggregate_type}:{aggregate_id}"},
        )
        event = session.scalars(
            pending_events(consumer_name)
            .where(Event.aggregate_type == aggregate_type, Event.aggregate_id == aggregate_id)
            .order_by(Event.id)
            .limit(1)
        ).first()
        if event is None:
            session.commit()
            return handled
        failure = session.get(EventFailure, (consumer_name, event.id))
        if failure is not None and not failure.is_wait and failure.next_attempt_at > utcnow():
            retry_at = failure.next_attempt_at
            session.commit()
            enqueue("events", DELIVER, consumer_name, aggregate_type, aggregate_id, at=retry_at)
            return handled
        event_id = event.id
        try:
            with session.begin_nested():
                consumer.handle(event)
                session.add(HandledEvent(consumer=consumer_name, event_id=event_id))
                if failure is not None:
                    session.delete(failure)
            session.commit()
            handled += 1
        except Deferred as wait:
            session.rollback()  # releases this aggregate's lock before another is taken
            if wait.earlier_event_id is not None and depth < MAX_EARLIER_DELIVERIES:
                earlier = session.get(Event, wait.earlier_event_id)
                _deliver(consumer_name, earlier.aggregate_type, earlier.aggregate_id, depth + 1)
                if session.get(HandledEvent, (consumer_name, wait.earlier_event_id)) is not None:
                    continue
            _record_wait(consumer_name, event_id, wait)
            return handled
        except Exception as exc:
            session.rollback()
            _record_failure(consumer_name, event_id, exc)
            return handled


def _record_wait(consumer_name: str, event_id: int, wait: Deferred) -> None:
    """The event waits (for an earlier one): come back soon, without counting a failed attempt."""
    log.info("consumer %s defers event %s: %s", consumer_name, event_id, wait)
    _try_again_later(consumer_name, event_id, f"{EventFailure.WAITING}{wait}", wait_seconds=wait.seconds)


def _record_failure(consumer_name: str, event_id: int, exc: Exception) -> None:
    log.exception("consumer %s failed on event %s", consumer_name, event_id)
    _try_again_later(consumer_name, event_id, "".join(traceback.format_exception_only(exc)).strip())


def _try_again_later(consumer_name: str, event_id: int, reason: str, wait_seconds: float | None = None) -> None:
    """Record why the event is not handled and when to try again: after `wait_seconds`, or, for a
    failure, after one more attempt's backoff. Commit, then enqueue the delivery for that moment."""
    session = db.session
    failure = session.get(EventFailure, (consumer_name, event_id)) or EventFailure(
        consumer=consumer_name, event_id=event_id, attempts=0
    )
    failure.last_error = reason[:2000]
    if wait_seconds is None:
        failure.attempts += 1
        config = current_app.config
        delay = backoff(failure.attempts, config["EVENT_RETRY_BASE_SECONDS"], config["EVENT_RETRY_MAX_SECONDS"])
    else:
        delay = timedelta(seconds=wait_seconds)
    failure.next_attempt_at = utcnow() + delay
    session.add(failure)
    event = session.get(Event, event_id)
    retry_at = failure.next_attempt_at
    session.commit()
    enqueue("events", DELIVER, consumer_name, event.aggregate_type, event.aggregate_id, at=retry_at)


# An event's id is taken when it is written, but it becomes visible only at its commit: a watermark
# never passes events younger than this, so a transaction still open below it is not skipped.
WATERMARK_SETTLE_SECONDS = 60


@every("SWEEP_INTERVAL_SECONDS", name="event-watermarks")
@job
def advance_watermarks() -> dict[str, int]:
    """Move each consumer's watermark up to just below its oldest pending event."""
    settled_before = utcnow() - timedelta(seconds=WATERMARK_SETTLE_SECONDS)
    moved = {}
    for name in sorted(consumers):
        floor = handled_through(name)
        settled = db.session.scalar(
            select(func.max(Event.id)).where(Event.id > floor, Event.created_at <= settled_before)
        )
        if settled is None:
            continue
        first_pending = db.session.scalar(
            pending_events(name).where(Event.id > floor, Event.id <= settled).with_only_columns(func.min(Event.id))
        )
        target = settled if first_pending is None else first_pending - 1
        if target > floor:
            upsert = insert(ConsumerWatermark).values(consumer=name, handled_through=target, advanced_at=utcnow())
            db.session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[ConsumerWatermark.consumer],
                    set_={"handled_through": target, "advanced_at": utcnow()},
                    where=ConsumerWatermark.handled_through < target,
                )
            )
            moved[name] = target
    db.session.commit()
    return moved


@sweeper("deliveries")
def pending_deliveries(older_than: timedelta) -> list[tuple[str, str, tuple[str, str, str]]]:
    """A delivery job for every (consumer, aggregate) with events still pending."""
    cutoff = utcnow() - older_than
    found = []
    for name in consumers:
        rows = db.session.execute(
            pending_events(name)
            .where(Event.created_at <= cutoff)
            .with_only_columns(Event.aggregate_type, Event.aggregate_id)
            .distinct()
        ).all()
        found.extend(("events", DELIVER, (name, row.aggregate_type, row.aggregate_id)) for row in rows)
    return found


def count_pending() -> int:
    return sum(
        db.session.scalar(select(func.count()).select_from(pending_events(name).subquery())) or 0 for name in consumers
    )


def pending_by_consumer() -> dict[str, tuple[int, object]]:
    """Per consumer: (events not handled yet, when the oldest of them was created), one query each."""
    summary = {}
    for name in sorted(consumers):
        pending = pending_events(name).subquery()
        count, oldest = db.session.execute(select(func.count(), func.min(pending.c.created_at))).one()
        summary[name] = (count or 0, oldest)
    return summary
