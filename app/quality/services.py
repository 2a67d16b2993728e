"""The quality rules (US-190, US-200, US-210, US-305). Services flush, never commit.

- The queue holds one item per order (a unique constraint): ended orders enter from their event,
  audited ones from a random pick. A claim is a conditional UPDATE, so of two managers claiming
  the same item one wins and the other is told.
- A review is stored once per item and once per form token: a double click finds the first one.
  Amendments keep the previous values in `quality_review_revisions`; the result mails go out once,
  when the review is first submitted, with the wording written for each party.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from app.accounts.queries import active_with_role, contacts
from app.events import publish
from app.extensions import db
from app.notifications.services import queue_email
from app.platform.clock import company_zone, utcnow
from app.platform.validation import FieldErrors, ValidationError
from app.quality.models import (
    CALL_OUTCOMES,
    CALL_PARTIES,
    CRITERIA,
    Audit,
    CallLog,
    Fault,
    Hypothesis,
    HypothesisEntry,
    HypothesisStatus,
    QualityOrder,
    QueueItem,
    Review,
    ReviewRevision,
    RootCause,
)

NO_SHOW_REASON = "no_show"  # the reason order.failed carries for a no-show (docs/events.md)
# The kit was never issued, so nobody could check in: the company's failure, not the worker's.
KIT_NOT_ISSUED_REASON = "kit_not_issued"
ENDED_STATUSES = ("cancelled", "failed")
DEFAULT_ROOT_CAUSES = (
    "Worker did not show up",
    "Late arrival",
    "Poor workmanship",
    "Missing or wrong consumables",
    "Miscommunication",
    "Client changed plans",
    "Scheduling error",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ClaimConflict(ValidationError):
    """Another manager holds the item."""


class AlreadyReviewed(ValidationError):
    """The item has a review already (submitted with another form): amend it instead."""


# ---------------------------------------------------------------- facts from order events


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_order_end(event_type: str, payload: dict, event_id: int) -> QueueItem | None:
    """Keep the ended order's facts; a cancelled or failed order enters the queue once (US-200),
    dated when it ended (a late delivery does not make it look younger).

    Both writes are upserts on the order id, so a replay or a concurrent delivery adds nothing.
    Returns the queue item when this call created it.
    """
    status = event_type.split(".", 1)[1]
    reason = payload.get("reason") or ""
    facts = {
        "order_id": int(payload["order_id"]),
        "status": status,
        "client_id": payload["client_id"],
        "worker_id": payload.get("worker_id"),
        "service_type_id": payload.get("service_type_id"),
        "service": (payload.get("service") or "")[:120],
        "price_cents": payload.get("price_cents"),
        "slot_start": _time(payload.get("slot_start")),
        "slot_end": _time(payload.get("slot_end")),
        "ended_at": _time(payload.get("at")) or utcnow(),
        "reason": reason,
        "ended_by_id": payload.get("by_user_id"),
        "no_show": status == "failed" and reason == NO_SHOW_REASON,
        "event_id": event_id,
    }
    stmt = insert(QualityOrder).values(**facts)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[QualityOrder.order_id],
            set_={key: stmt.excluded[key] for key in facts if key != "order_id"},
            where=QualityOrder.event_id < stmt.excluded.event_id,
        )
    )
    if status not in ENDED_STATUSES:
        return None
    item_id = db.session.scalar(
        insert(QueueItem)
        .values(order_id=facts["order_id"], source="ended", entered_at=facts["ended_at"])
        .on_conflict_do_nothing(index_elements=[QueueItem.order_id])
        .returning(QueueItem.id)
    )
    if item_id is None:
        return None
    return db.session.get(QueueItem, item_id, populate_existing=True)


# ---------------------------------------------------------------- claims


def claim(item_id: int, manager_id: int) -> QueueItem:
    """Take the item for review. One UPDATE that only matches an unclaimed item: two managers
    racing both run it, PostgreSQL serialises them on the row, and the second matches nothing."""
    claimed = db.session.scalar(
        update(QueueItem)
        .where(QueueItem.id == item_id, QueueItem.claimed_by_id.is_(None))
        .values(claimed_by_id=manager_id, claimed_at=utcnow())
        .returning(QueueItem.id)
    )
    item = db.session.get(QueueItem, item_id, populate_existing=True)
    if item is None:
        raise ValidationError(item="No such item in the queue.")
    if claimed is None and item.claimed_by_id != manager_id:
        raise ClaimConflict(item="Another manager has claimed this order already.")
    return item


def release(item_id: int, manager_id: int) -> QueueItem:
    """Give the claim back (only its holder can, and only before the review)."""
    item = db.session.get(QueueItem, item_id)
    if item is None:
        raise ValidationError(item="No such item in the queue.")
    if item.claimed_by_id != manager_id:
        raise ClaimConflict(item="Only the manager who claimed it can release it.")
    if item.review is not None:
        raise AlreadyReviewed(item="The order has been reviewed; its claim stays.")
    item.claimed_by_id = None
    item.claimed_at = None
    db.session.flush()
    return item


# ---------------------------------------------------------------- random audits (US-190)


@dataclass(frozen=True)
class AuditFilters:
    date_from: date | None = None
    date_to: date | None = None
    service_type_id: int | None = None
    worker_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "service_type_id": self.service_type_id,
            "worker_id": self.worker_id,
        }


def period_conditions(column, date_from: date | None, date_to: date | None) -> list:
    """Conditions for `column` within whole days of the company's time zone."""
    zone = company_zone()
    conditions = []
    if date_from:
        conditions.append(column >= datetime.combine(date_from, time.min, tzinfo=zone))
    if date_to:
        conditions.append(column < datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone))
    return conditions


def audit_candidates(filters: AuditFilters):
    """Completed orders never queued (so never reviewed), within the filters, in a stable order."""
    conditions = [
        QualityOrder.status == "completed",
        ~exists().where(QueueItem.order_id == QualityOrder.order_id),
        *period_conditions(QualityOrder.ended_at, filters.date_from, filters.date_to),
    ]
    if filters.service_type_id:
        conditions.append(QualityOrder.service_type_id == filters.service_type_id)
    if filters.worker_id:
        conditions.append(QualityOrder.worker_id == filters.worker_id)
    return select(QualityOrder.order_id).where(and_(*conditions))


def pick_random(manager_id: int, filters: AuditFilters, rng: random.Random | None = None) -> Audit:
    """Pick one candidate uniformly at random; record the audit; queue the order claimed by the manager.

    The candidates are counted, an index drawn uniformly in [0, n) (the system's CSPRNG unless a
    seeded generator is given), and the row at that index taken from the stable order. A pick lost
    to a concurrent audit of the same order is drawn again. An audit with no candidate is recorded
    too (it shows that none was left).
    """
    rng = rng or random.SystemRandom()
    candidates = audit_candidates(filters)
    for _attempt in range(5):
        count = db.session.scalar(select(func.count()).select_from(candidates.subquery()))
        audit = Audit(picked_by_id=manager_id, picked_at=utcnow(), filters=filters.as_dict(), candidates=count)
        if not count:
            db.session.add(audit)
            db.session.flush()
            return audit
        order_id = db.session.scalar(candidates.order_by(QualityOrder.order_id).offset(rng.randrange(count)).limit(1))
        audit.order_id = order_id
        db.session.add(audit)
        db.session.flush()
        item_id = db.session.scalar(
            insert(QueueItem)
            .values(
                order_id=order_id,
                source="audit",
                audit_id=audit.id,
                entered_at=audit.picked_at,
                claimed_by_id=manager_id,
                claimed_at=audit.picked_at,
            )
            .on_conflict_do_nothing(index_elements=[QueueItem.order_id])
            .returning(QueueItem.id)
        )
        if item_id is not None:
            publish(
                "quality.audit_picked",
                "quality_audit",
                audit.id,
                {
                    "audit_id": audit.id,
                    "order_id": order_id,
                    "by_user_id": manager_id,
                    "filters": audit.filters,
                    "candidates": count,
                    "at": audit.picked_at.isoformat(),
                },
            )
            return audit
        db.session.delete(audit)
        db.session.flush()
    raise ValidationError(audit="Other managers were picking the same orders; try again.")


# ---------------------------------------------------------------- root causes


def root_cause_names() -> list[str]:
    """The defaults and every category managers added, alphabetically."""
    stored = db.session.scalars(select(RootCause.name))
    names = {name.lower(): name for name in DEFAULT_ROOT_CAUSES}
    names.update({name.lower(): name for name in stored})
    return sorted(names.values(), key=str.lower)


def root_cause(name: str) -> RootCause:
    """The category with this name (case-insensitive), created on first use."""
    name = " ".join(name.split())
    db.session.execute(insert(RootCause).values(name=name, created_at=utcnow()).on_conflict_do_nothing())
    return db.session.scalar(select(RootCause).where(func.lower(RootCause.name) == name.lower()))


# ---------------------------------------------------------------- reviews (US-210, US-305)


@dataclass
class NewHypothesis:
    if_we: str
    then: str
    because: str


@dataclass
class ReviewInput:
    scores: dict[str, int | None]
    fault: str
    root_cause: str
    findings: str = ""
    client_message: str = ""
    worker_message: str = ""
    hypothesis_ids: list[int] = field(default_factory=list)
    new_hypotheses: list[NewHypothesis] = field(default_factory=list)


def _text(errors: FieldErrors, name: str, value: str | None, *, required: bool = False, limit: int = 4000) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.add(name, "This field is required.")
    elif len(value) > limit:
        errors.add(name, f"At most {limit} characters.")
    elif _CONTROL.search(value):
        errors.add(name, "Control characters are not allowed.")
    return value


def _check(data: ReviewInput, order: QualityOrder) -> ReviewInput:
    errors = FieldErrors()
    for name, label in CRITERIA:
        score = data.scores.get(name)
        if not isinstance(score, int) or not 1 <= score <= 5:
            errors.add(name, f"Give {label.lower()} a score from 1 to 5.")
    if data.fault not in set(Fault):
        errors.add("fault", "Choose whose fault it was.")
    root = _text(errors, "root_cause", data.root_cause, required=True, limit=80)
    findings = _text(errors, "findings", data.findings)
    client_message = _text(errors, "client_message", data.client_message, required=True)
    worker_message = _text(errors, "worker_message", data.worker_message, required=order.worker_id is not None)
    new = []
    for hypothesis in data.new_hypotheses:
        parts = [
            _text(errors, f"new_{part}", getattr(hypothesis, part), required=True, limit=500)
            for part in ("if_we", "then", "because")
        ]
        if all(parts):
            new.append(NewHypothesis(*parts))
    known = set(db.session.scalars(select(Hypothesis.id).where(Hypothesis.id.in_(data.hypothesis_ids or [0]))))
    if set(data.hypothesis_ids) - known:
        errors.add("hypotheses", "Choose hypotheses from the list.")
    errors.raise_if_any()
    return ReviewInput(
        scores={name: data.scores[name] for name, _ in CRITERIA},
        fault=data.fault,
        root_cause=root,
        findings=findings,
        client_message=client_message,
        worker_message=worker_message,
        hypothesis_ids=sorted(known),
        new_hypotheses=new,
    )


def _hypotheses(data: ReviewInput, manager_id: int) -> list[Hypothesis]:
    chosen = list(db.session.scalars(select(Hypothesis).where(Hypothesis.id.in_(data.hypothesis_ids or [0]))))
    for new in data.new_hypotheses:
        chosen.append(create_hypothesis(manager_id, new.if_we, new.then, new.because))
    return chosen


def submit_review(
    item_id: int, manager_id: int, token: str, data: ReviewInput, *, notify: bool = True
) -> tuple[Review, bool]:
    """Store the review of an item; (review, created). A resubmitted token returns the stored review.

    The item must be claimed by this manager (an unclaimed one is claimed here). The client and
    the worker are mailed their messages through the outbox, once per review (US-305); only the
    demo's history (reviews "from last month") passes notify=False.
    """
    if not token or len(token) > 64:
        raise ValidationError(token="The form has expired: reload the page.")
    existing = db.session.scalar(select(Review).where(Review.submit_token == token))
    if existing is not None:
        return existing, False
    item = db.session.scalar(select(QueueItem).where(QueueItem.id == item_id).with_for_update(of=QueueItem))
    if item is None:
        raise ValidationError(item="No such item in the queue.")
    if item.claimed_by_id is None:
        item = claim(item_id, manager_id)
    elif item.claimed_by_id != manager_id:
        raise ClaimConflict(item="Another manager has claimed this order.")
    if item.review is not None:
        raise AlreadyReviewed(item="This order has been reviewed already: amend the review instead.")
    data = _check(data, item.order)
    hypotheses = _hypotheses(data, manager_id)
    cause = root_cause(data.root_cause)
    now = utcnow()
    review = Review(
        item=item,
        order_id=item.order_id,
        submit_token=token,
        reviewer_id=manager_id,
        **data.scores,
        fault=data.fault,
        root_cause=cause,
        findings=data.findings,
        client_message=data.client_message,
        worker_message=data.worker_message,
        hypotheses=hypotheses,
        created_at=now,
        updated_at=now,
    )
    db.session.add(review)
    db.session.flush()
    publish("quality.review_completed", "quality_review", review.id, review_payload(review))
    if notify:
        mail_results(review)
    return review, True


def review_payload(review: Review) -> dict:
    order = review.item.order
    return {
        "review_id": review.id,
        "order_id": review.order_id,
        "reviewer_id": review.reviewer_id,
        "source": review.item.source,
        "outcome": order.status,
        "worker_id": order.worker_id,
        "scores": review.scores(),
        "fault": review.fault,
        "root_cause": review.root_cause.name,
        "hypothesis_ids": [hypothesis.id for hypothesis in review.hypotheses],
        "version": review.version,
        "at": review.updated_at.isoformat(),
    }


def mail_results(review: Review) -> None:
    """US-305: the client and the worker each get their own message; the findings stay internal."""
    order = review.item.order
    people = contacts([order.client_id, order.worker_id])
    common = {
        "order_id": order.order_id,
        "service": order.service,
        "slot_start": order.slot_start,
        "outcome": order.status,
    }
    for role, person_id, message in (
        ("client", order.client_id, review.client_message),
        ("worker", order.worker_id, review.worker_message),
    ):
        person = people.get(person_id) if person_id else None
        if person is None or not message:
            continue
        queue_email(
            person.email,
            f"quality_result_{role}",
            {**common, "name": person.name, "message": message},
            idempotency_key=f"quality:review:{review.id}:{role}",
        )


SNAPSHOT_FIELDS = (
    *(name for name, _ in CRITERIA),
    "fault",
    "root_cause",
    "findings",
    "client_message",
    "worker_message",
    "hypothesis_ids",
)


def snapshot(review: Review) -> dict:
    return {
        **review.scores(),
        "fault": review.fault,
        "root_cause": review.root_cause.name,
        "findings": review.findings,
        "client_message": review.client_message,
        "worker_message": review.worker_message,
        "hypothesis_ids": [hypothesis.id for hypothesis in review.hypotheses],
    }


def amend_review(review_id: int, manager_id: int, data: ReviewInput, note: str) -> ReviewRevision | None:
    """Change a review, keeping what it said before as a revision (who, when, why, which fields).

    Nothing is mailed again: the parties got the result once. Returns None when nothing changed.
    """
    review = db.session.scalar(select(Review).where(Review.id == review_id).with_for_update(of=Review))
    if review is None:
        raise ValidationError(review="No such review.")
    errors = FieldErrors()
    note = _text(errors, "note", note, required=True, limit=1000)
    try:
        data = _check(data, review.item.order)
    except ValidationError as exc:
        exc.errors.update(errors.errors)
        raise
    errors.raise_if_any()
    before = snapshot(review)
    hypotheses = _hypotheses(data, manager_id)
    after = {
        **data.scores,
        "fault": data.fault,
        "root_cause": " ".join(data.root_cause.split()),
        "findings": data.findings,
        "client_message": data.client_message,
        "worker_message": data.worker_message,
        "hypothesis_ids": sorted(hypothesis.id for hypothesis in hypotheses),
    }
    changed = [name for name in SNAPSHOT_FIELDS if before[name] != after[name]]
    if "root_cause" in changed and before["root_cause"].lower() == after["root_cause"].lower():
        changed.remove("root_cause")  # the same category: names are case-insensitive
    if not changed:
        return None
    revision = ReviewRevision(
        review=review,
        version=review.version,
        before=before,
        changed_fields=changed,
        note=note,
        changed_by_id=manager_id,
        changed_at=utcnow(),
    )
    db.session.add(revision)
    for name in data.scores:
        setattr(review, name, data.scores[name])
    review.fault = data.fault
    if "root_cause" in changed:
        review.root_cause = root_cause(data.root_cause)
    review.findings = data.findings
    review.client_message = data.client_message
    review.worker_message = data.worker_message
    review.hypotheses = hypotheses
    review.version += 1
    review.updated_at = revision.changed_at
    db.session.flush()
    publish(
        "quality.review_amended",
        "quality_review",
        review.id,
        {**review_payload(review), "changed_fields": changed, "by_user_id": manager_id},
    )
    return revision


# ---------------------------------------------------------------- hypotheses


def create_hypothesis(manager_id: int, if_we: str, then: str, because: str, owner_id: int | None = None) -> Hypothesis:
    errors = FieldErrors()
    parts = [
        _text(errors, name, value, required=True, limit=500)
        for name, value in (("if_we", if_we), ("then", then), ("because", because))
    ]
    errors.raise_if_any()
    parts = [re.sub(r"^(if we|then|because)\s+", "", part, flags=re.I).rstrip(" .,") for part in parts]
    now = utcnow()
    hypothesis = Hypothesis(
        if_we=parts[0],
        then=parts[1],
        because=parts[2],
        status=HypothesisStatus.PROPOSED,
        owner_id=owner_id or manager_id,
        created_by_id=manager_id,
        created_at=now,
    )
    db.session.add(hypothesis)
    db.session.flush()
    db.session.add(
        HypothesisEntry(hypothesis=hypothesis, kind="created", to_status=hypothesis.status, by_id=manager_id, at=now)
    )
    db.session.flush()
    return hypothesis


def _locked_hypothesis(hypothesis_id: int) -> Hypothesis:
    hypothesis = db.session.scalar(
        select(Hypothesis).where(Hypothesis.id == hypothesis_id).with_for_update(of=Hypothesis)
    )
    if hypothesis is None:
        raise ValidationError(hypothesis="No such hypothesis.")
    return hypothesis


def change_status(hypothesis_id: int, manager_id: int, status: str, note: str = "") -> HypothesisEntry | None:
    """Move a hypothesis to another status, recorded with who, when and an optional note."""
    errors = FieldErrors()
    if status not in set(HypothesisStatus):
        errors.add("status", "Choose a status.")
    note = _text(errors, "note", note, limit=1000)
    errors.raise_if_any()
    hypothesis = _locked_hypothesis(hypothesis_id)
    if hypothesis.status == status:
        return None
    entry = HypothesisEntry(
        hypothesis=hypothesis,
        kind="status",
        from_status=hypothesis.status,
        to_status=status,
        text=note,
        by_id=manager_id,
        at=utcnow(),
    )
    hypothesis.status = status
    db.session.add(entry)
    db.session.flush()
    publish(
        "quality.hypothesis_status_changed",
        "quality_hypothesis",
        hypothesis.id,
        {
            "hypothesis_id": hypothesis.id,
            "from_status": entry.from_status,
            "status": status,
            "by_user_id": manager_id,
            "at": entry.at.isoformat(),
        },
    )
    return entry


def add_note(hypothesis_id: int, manager_id: int, text: str) -> HypothesisEntry:
    errors = FieldErrors()
    text = _text(errors, "text", text, required=True, limit=4000)
    errors.raise_if_any()
    hypothesis = _locked_hypothesis(hypothesis_id)
    entry = HypothesisEntry(hypothesis=hypothesis, kind="note", text=text, by_id=manager_id, at=utcnow())
    db.session.add(entry)
    db.session.flush()
    return entry


def set_owner(hypothesis_id: int, manager_id: int, owner_id: int | None) -> HypothesisEntry | None:
    """Give the hypothesis to another manager (or nobody); recorded with who and when."""
    if owner_id is not None and owner_id not in {person.id for person in active_with_role("manager")}:
        raise ValidationError(owner="Choose an active manager.")
    hypothesis = _locked_hypothesis(hypothesis_id)
    if hypothesis.owner_id == owner_id:
        return None
    entry = HypothesisEntry(
        hypothesis=hypothesis, kind="owner", text=str(owner_id or ""), by_id=manager_id, at=utcnow()
    )
    hypothesis.owner_id = owner_id
    db.session.add(entry)
    db.session.flush()
    return entry


# ---------------------------------------------------------------- the call log


def log_call(
    item_id: int, manager_id: int, party: str, outcome: str, notes: str = "", at: datetime | None = None
) -> CallLog:
    errors = FieldErrors()
    if party not in CALL_PARTIES:
        errors.add("party", "Choose whom you called.")
    if outcome not in CALL_OUTCOMES:
        errors.add("outcome", "Choose how the call went.")
    notes = _text(errors, "notes", notes, limit=2000)
    if at is not None and at > utcnow() + timedelta(minutes=5):
        errors.add("at", "A call cannot be in the future.")
    errors.raise_if_any()
    if db.session.get(QueueItem, item_id) is None:
        raise ValidationError(item="No such item in the queue.")
    call = CallLog(item_id=item_id, party=party, outcome=outcome, notes=notes, at=at or utcnow(), by_id=manager_id)
    db.session.add(call)
    db.session.flush()
    return call
