"""The quality tables. Order facts are copies from order events, keyed by the order id without a
foreign key: this domain reads orders only through their events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.clock import utcnow


class Fault(StrEnum):
    WORKER = "worker"
    CLIENT = "client"
    COMPANY = "company"
    SUPPLIES = "supplies"
    NOBODY = "nobody"


class HypothesisStatus(StrEnum):
    PROPOSED = "proposed"
    TESTING = "testing"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


# The review form's criteria (US-210): column name and label, each scored 1 to 5.
CRITERIA = (
    ("punctuality", "Punctuality"),
    ("work_quality", "Quality of the work"),
    ("communication", "Communication"),
    ("kit", "Kit and consumables"),
    ("satisfaction", "Client satisfaction"),
)
CALL_OUTCOMES = ("reached", "no_answer", "voicemail", "wrong_number", "call_back")
CALL_PARTIES = ("client", "worker")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class QualityOrder(db.Model):
    """What the quality service knows of an ended order, from its last order event."""

    __tablename__ = "quality_orders"
    __table_args__ = (
        CheckConstraint("status IN ('completed', 'cancelled', 'failed')", name="status_known"),
        Index("ix_quality_orders_status_ended", "status", "ended_at"),
    )

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(12))
    client_id: Mapped[int] = mapped_column(Integer, index=True)
    worker_id: Mapped[int | None] = mapped_column(Integer, index=True)
    service_type_id: Mapped[int | None] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(120), default="")
    price_cents: Mapped[int | None] = mapped_column(Integer)
    slot_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slot_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    ended_by_id: Mapped[int | None] = mapped_column(Integer)
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    event_id: Mapped[int] = mapped_column(Integer)


class Audit(db.Model):
    """One random pick (US-190): who, when, with which filters, among how many candidates."""

    __tablename__ = "quality_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    picked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    picked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    candidates: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer)


class QueueItem(db.Model):
    """One order to review (US-200), once per order; `claimed_by` is the manager reviewing it."""

    __tablename__ = "quality_queue_items"
    __table_args__ = (CheckConstraint("source IN ('ended', 'audit')", name="source_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("quality_orders.order_id"), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("quality_audits.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    order: Mapped[QualityOrder] = relationship(lazy="joined", innerjoin=True)
    review: Mapped[Review | None] = relationship(back_populates="item", uselist=False)
    audit: Mapped[Audit | None] = relationship()


class RootCause(db.Model):
    """A root-cause category; managers extend the list by naming a new one in the form."""

    __tablename__ = "quality_root_causes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("uq_quality_root_causes_name", func.lower(RootCause.name), unique=True)

review_hypotheses = Table(
    "quality_review_hypotheses",
    db.metadata,
    Column("review_id", ForeignKey("quality_reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("hypothesis_id", ForeignKey("quality_hypotheses.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Review(db.Model):
    """The review of one queue item (US-210); amended in place with the old values in `revisions`."""

    __tablename__ = "quality_reviews"
    __table_args__ = (
        *(CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_score") for name, _ in CRITERIA),
        CheckConstraint(_in("fault", Fault), name="fault_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("quality_queue_items.id"), unique=True)
    order_id: Mapped[int] = mapped_column(Integer, unique=True)
    submit_token: Mapped[str] = mapped_column(String(64), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    punctuality: Mapped[int] = mapped_column(Integer)
    work_quality: Mapped[int] = mapped_column(Integer)
    communication: Mapped[int] = mapped_column(Integer)
    kit: Mapped[int] = mapped_column(Integer)
    satisfaction: Mapped[int] = mapped_column(Integer)
    fault: Mapped[str] = mapped_column(String(10))
    root_cause_id: Mapped[int] = mapped_column(ForeignKey("quality_root_causes.id"), index=True)
    findings: Mapped[str] = mapped_column(Text, default="")
    client_message: Mapped[str] = mapped_column(Text)
    worker_message: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    item: Mapped[QueueItem] = relationship(back_populates="review")
    root_cause: Mapped[RootCause] = relationship()
    hypotheses: Mapped[list[Hypothesis]] = relationship(
        secondary=review_hypotheses, back_populates="reviews", order_by="Hypothesis.id"
    )
    revisions: Mapped[list[ReviewRevision]] = relationship(
        back_populates="review", order_by="ReviewRevision.version.desc()"
    )

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name, _ in CRITERIA}


class ReviewRevision(db.Model):
    """An amendment: the review as it was before (`before`), who changed it, when and why."""

    __tablename__ = "quality_review_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("quality_reviews.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict] = mapped_column(JSON)
    changed_fields: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    review: Mapped[Review] = relationship(back_populates="revisions")


class Hypothesis(db.Model):
    """ "If we ..., then ..., because ...": an idea for improvement, with the reviews that support it."""

    __tablename__ = "quality_hypotheses"
    __table_args__ = (CheckConstraint(_in("status", HypothesisStatus), name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    if_we: Mapped[str] = mapped_column(Text)
    then: Mapped[str] = mapped_column(Text)
    because: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=HypothesisStatus.PROPOSED)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    reviews: Mapped[list[Review]] = relationship(secondary=review_hypotheses, back_populates="hypotheses")
    entries: Mapped[list[HypothesisEntry]] = relationship(
        back_populates="hypothesis", order_by="HypothesisEntry.id.desc()"
    )

    @property
    def sentence(self) -> str:
        return f"If we {self.if_we}, then {self.then}, because {self.because}."


class HypothesisEntry(db.Model):
    """The hypothesis's history: a status change (from, to) or a note, with who and when."""

    __tablename__ = "quality_hypothesis_entries"
    __table_args__ = (CheckConstraint("kind IN ('created', 'status', 'note', 'owner')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hypothesis_id: Mapped[int] = mapped_column(ForeignKey("quality_hypotheses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str | None] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    hypothesis: Mapped[Hypothesis] = relationship(back_populates="entries")


class CallLog(db.Model):
    """A call or contact attempt about a queued order (US-190: the manager may call the client)."""

    __tablename__ = "quality_calls"
    __table_args__ = (
        CheckConstraint(_in("outcome", CALL_OUTCOMES), name="outcome_known"),
        CheckConstraint(_in("party", CALL_PARTIES), name="party_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("quality_queue_items.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(15))
    notes: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
