"""The quality demo (US-190, US-200, US-210): a queue of unreviewed failed and cancelled orders,
reviewed older ones and random audits, and hypotheses in every status with supporting reviews.

The history's ended orders are recorded for the quality consumer here (their events are marked
handled by it, so it does not redo them), the same way the running consumer would. Reviews older
than the last two weeks are "past" reviews: they mail nobody (the parties would have been mailed
then). Loaded once: when no review exists yet.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import and_, exists, func, select

from app.accounts import services as accounts
from app.demo.data import STAFF
from app.events.models import Event, HandledEvent
from app.extensions import db
from app.platform.clock import utcnow
from app.quality import services as quality
from app.quality.models import CRITERIA, QualityOrder, QueueItem, Review

ENDED = ("order.completed", "order.cancelled", "order.failed")
OPEN_DAYS = 14  # ended orders more recent than this stay in the queue, unreviewed
AUDITS = 5
HYPOTHESES = [
    # (if we, then, because, status, which reviews support it)
    (
        "text workers the evening before each job",
        "fewer no-shows",
        "most no-shows forgot the time",
        "confirmed",
        "no_show",
    ),
    (
        "call clients two days before the slot",
        "fewer late cancellations",
        "clients cancel when plans change late",
        "testing",
        "cancelled",
    ),
    (
        "put a spare pair of gloves in every kit",
        "fewer jobs stop for lack of supplies",
        "gloves tear on rough jobs",
        "proposed",
        "audit",
    ),
    (
        "offer a free reschedule instead of a cancellation",
        "clients keep their booking",
        "a cancellation feels final",
        "rejected",
        None,
    ),
]


def missing() -> bool:
    """True when the demo's manager exists and there is no quality review yet."""
    if accounts.find_user_by_email(STAFF[0][0]) is None:
        return False
    return db.session.scalar(select(func.count()).select_from(Review)) == 0


def load() -> None:
    manager = accounts.find_user_by_email(STAFF[0][0])
    now = utcnow()
    _record_history(now)
    hypotheses = _hypotheses(manager.id)
    rng = random.Random(190)
    cutoff = now - timedelta(days=OPEN_DAYS)
    items = list(
        db.session.scalars(
            select(QueueItem)
            .join(QualityOrder, QualityOrder.order_id == QueueItem.order_id)
            .where(QualityOrder.ended_at < cutoff)
            .order_by(QualityOrder.ended_at)
        )
    )
    for index, item in enumerate(items):
        if index % 4 == 3:
            continue  # some older ones are left too: the queue shows its age
        _review(item, manager.id, hypotheses, rng)
    for _ in range(AUDITS):
        filters = quality.AuditFilters(date_to=cutoff.date())
        audit = quality.pick_random(manager.id, filters, rng=rng)
        if audit.order_id is None:
            break
        item = db.session.scalar(select(QueueItem).where(QueueItem.order_id == audit.order_id))
        _review(item, manager.id, hypotheses, rng)
    db.session.flush()


def _record_history(now) -> None:
    """Hand the ended-order events the quality consumer has not seen to its service, marked handled."""
    pending = db.session.scalars(
        select(Event)
        .where(
            Event.type.in_(ENDED),
            ~exists().where(and_(HandledEvent.consumer == "quality", HandledEvent.event_id == Event.id)),
        )
        .order_by(Event.id)
    )
    for event in pending:
        quality.record_order_end(event.type, event.payload, event.id)
        db.session.add(HandledEvent(consumer="quality", event_id=event.id, handled_at=now))
    db.session.flush()


def _hypotheses(manager_id: int) -> dict[str, object]:
    found = {}
    for if_we, then, because, status, supports in HYPOTHESES:
        hypothesis = quality.create_hypothesis(manager_id, if_we, then, because)
        if status != "proposed":
            if status in ("confirmed", "rejected"):
                quality.change_status(hypothesis.id, manager_id, "testing", "Trying it for a month.")
            quality.change_status(hypothesis.id, manager_id, status, f"Marked {status} after the month's reviews.")
        if supports:
            found[supports] = hypothesis
    return found


def _review(item: QueueItem, manager_id: int, hypotheses: dict, rng: random.Random) -> None:
    facts = item.order
    if item.source == "audit":
        kind, fault, cause = "audit", "nobody", "Missing or wrong consumables" if rng.random() < 0.4 else "Late arrival"
        scores = {name: rng.choice((3, 4, 4, 5, 5)) for name, _ in CRITERIA}
        client_message = "Thank you for letting us check on your order: we are glad it went well."
        worker_message = "A random check of your job: well done, keep it up."
    elif facts.no_show:
        kind, fault, cause = "no_show", "worker", "Worker did not show up"
        scores = {name: rng.choice((1, 1, 2)) for name, _ in CRITERIA} | {"kit": rng.choice((3, 4))}
        client_message = "We are sorry the worker did not come. Your next booking has priority."
        worker_message = "You missed a job without notice. Please tell us early when you cannot come."
    else:
        kind, fault = "cancelled", "client" if facts.ended_by_id == facts.client_id else "company"
        cause = "Client changed plans" if fault == "client" else "Scheduling error"
        scores = {name: rng.choice((2, 3, 4)) for name, _ in CRITERIA}
        client_message = "We looked at why your order was cancelled; we hope to see you again soon."
        worker_message = "An order of yours was cancelled; nothing for you to change."
    supporting = hypotheses.get(kind)
    review, _ = quality.submit_review(
        item.id,
        manager_id,
        f"demo-{item.order_id}",
        quality.ReviewInput(
            scores=scores,
            fault=fault,
            root_cause=cause,
            findings=f"Demo review of order #{item.order_id}.",
            client_message=client_message,
            worker_message=worker_message if facts.worker_id else "",
            hypothesis_ids=[supporting.id] if supporting is not None else [],
        ),
        notify=False,
    )
    reviewed_at = facts.ended_at + timedelta(days=2 if item.source == "audit" else 1)
    review.created_at = review.updated_at = min(reviewed_at, utcnow())
