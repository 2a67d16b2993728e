"""Parked parties (issue 13): one party's failing billing event does not hold everyone's invoices.

The daily close delivers a day's billing events first. When one keeps failing, the close parks the
parties it concerns (the order's client and worker, from the event's payload) with the error, and
closes the day anyway: the event's postings will land in the closed day later, through
`close.record_posting`, like any late posting. The weekly and monthly runs bill everyone else and
skip a party while it has an open park (see the statements in runs.py). Nothing of the party is
invoiced meanwhile, so nothing of it can be billed twice or split.

A park is resolved when its event is posted: by the event queue's own retries (found at the next
run) or by a manager's retry from /manage/billing (a job: the event is delivered at once, then the
party is billed, see `runs.retry_parked`). A resolved party is billed on the invoice of the last
period billed for its kind, which holds everything of it not invoiced yet up to that period's
cutoff (earlier periods counted late), and `billed_at` records that it was.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert

from app.billing.models import AccountKind, ParkedParty
from app.billing.periods import day_period
from app.events.models import Event, EventFailure, HandledEvent
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.queues import enqueue
from app.platform.unit_of_work import after_commit
from app.platform.validation import ValidationError

log = logging.getLogger(__name__)

CONSUMER = "billing"
RETRY_JOB = "app.billing.jobs.retry_parked"


def parties_of(event: Event) -> list[tuple[str, int]]:
    """Whose money an order event moves: its client and, when there was one, its worker."""
    payload = event.payload or {}
    parties = []
    if payload.get("client_id") is not None:
        parties.append((AccountKind.CLIENT.value, int(payload["client_id"])))
    if payload.get("worker_id") is not None:
        parties.append((AccountKind.WORKER.value, int(payload["worker_id"])))
    return parties


def _error_of(event: Event) -> str:
    """The event's own last error, or the one of the earlier event of its aggregate it waits behind."""
    failure = db.session.get(EventFailure, (CONSUMER, event.id))
    if failure is not None:
        return failure.last_error
    blocking = db.session.execute(
        select(EventFailure.event_id, EventFailure.last_error)
        .join(Event, Event.id == EventFailure.event_id)
        .where(
            EventFailure.consumer == CONSUMER,
            Event.aggregate_type == event.aggregate_type,
            Event.aggregate_id == event.aggregate_id,
            Event.id < event.id,
        )
        .order_by(Event.id)
        .limit(1)
    ).first()
    if blocking is not None:
        return f"Waits behind event #{blocking.event_id}: {blocking.last_error}"
    return "Not posted yet."


def park_pending(day: date, margin, until: datetime | None = None) -> bool:
    """Park the parties of the day's billing events still pending after the close's delivery
    (`until`: only those created before it, for a run's cutoff inside the day); flushes.

    Returns False, parking nothing, when one of them names no party: then the day must stay open.
    """
    from app.events.jobs import pending_events

    period = day_period(day)
    events = list(
        db.session.scalars(
            pending_events(CONSUMER)
            .where(Event.created_at >= period.starts_at - margin, Event.created_at < (until or period.ends_at))
            .order_by(Event.id)
        )
    )
    rows = []
    for event in events:
        parties = parties_of(event)
        if not parties:
            log.warning("billing event %s names no party: day %s stays open", event.id, day)
            return False
        error = _error_of(event)
        order_id = (event.payload or {}).get("order_id")
        for party_kind, user_id in parties:
            rows.append(
                {
                    "party_kind": party_kind,
                    "user_id": user_id,
                    "event_id": event.id,
                    "order_id": int(order_id) if order_id is not None else None,
                    "day": day,
                    "error": error[:2000],
                    "parked_at": utcnow(),
                }
            )
    if rows:
        db.session.execute(insert(ParkedParty).values(rows).on_conflict_do_nothing())
        log.warning("day %s: parked %s parties of %s failing billing events", day, len(rows), len(events))
    return True


def resolve_delivered(now: datetime | None = None) -> int:
    """Resolve the open parks whose event has been posted since (flushes). Returns how many."""
    handled = exists().where(and_(HandledEvent.consumer == CONSUMER, HandledEvent.event_id == ParkedParty.event_id))
    result = db.session.execute(
        update(ParkedParty)
        .where(ParkedParty.resolved_at.is_(None), handled)
        .values(resolved_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def to_bill(party_kind: str) -> list[int]:
    """Parties of this kind whose parks are all resolved and that were not billed since."""
    waiting = set(
        db.session.scalars(
            select(ParkedParty.user_id).where(
                ParkedParty.party_kind == party_kind,
                ParkedParty.resolved_at.is_not(None),
                ParkedParty.billed_at.is_(None),
            )
        )
    )
    if not waiting:
        return []
    blocked = set(
        db.session.scalars(
            select(ParkedParty.user_id).where(
                ParkedParty.party_kind == party_kind,
                ParkedParty.resolved_at.is_(None),
                ParkedParty.user_id.in_(waiting),
            )
        )
    )
    return sorted(waiting - blocked)


def mark_billed(party_kind: str, user_ids: list[int], now: datetime) -> None:
    if not user_ids:
        return
    db.session.execute(
        update(ParkedParty)
        .where(
            ParkedParty.party_kind == party_kind,
            ParkedParty.user_id.in_(user_ids),
            ParkedParty.resolved_at.is_not(None),
            ParkedParty.billed_at.is_(None),
        )
        .values(billed_at=now)
        .execution_options(synchronize_session=False)
    )


def request_retry(park_id: int, manager) -> ParkedParty:
    """A manager asks for the parked event to be posted again now (flushes; the job is enqueued
    after the commit). Refused when the park is resolved already."""
    park = db.session.scalar(
        select(ParkedParty).where(ParkedParty.id == park_id).with_for_update().execution_options(populate_existing=True)
    )
    if park is None:
        raise ValidationError(park="There is no such parked party.")
    if park.resolved_at is not None:
        raise ValidationError(park="This party is not parked any more: its billing event was posted.")
    park.retry_requested_at = utcnow()
    park.retry_requested_by_id = getattr(manager, "id", manager)
    db.session.flush()
    after_commit(lambda: enqueue("billing", RETRY_JOB, park_id, job_timeout=3600))
    return park


def open_parks() -> list[ParkedParty]:
    """Open parks for the managers' page, oldest first, with their people."""
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(ParkedParty)
            .where(ParkedParty.resolved_at.is_(None))
            .options(joinedload(ParkedParty.user))
            .order_by(ParkedParty.parked_at, ParkedParty.id)
        )
    )


def open_count(party_kind: str) -> int:
    """How many parties of this kind are parked now."""
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count(func.distinct(ParkedParty.user_id))).where(
                ParkedParty.party_kind == party_kind, ParkedParty.resolved_at.is_(None)
            )
        )
        or 0
    )


def resolvable(party_kind: str) -> bool:
    """Whether a run has parked parties of this kind to resolve or to bill (for the scheduled check)."""
    handled = exists().where(and_(HandledEvent.consumer == CONSUMER, HandledEvent.event_id == ParkedParty.event_id))
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    ParkedParty.party_kind == party_kind,
                    ParkedParty.billed_at.is_(None),
                    (ParkedParty.resolved_at.is_not(None)) | handled,
                )
            )
        )
    )
