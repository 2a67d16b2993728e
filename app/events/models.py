from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.clock import utcnow


class Event(db.Model):
    """Something that happened, with the id of the thing it happened to (its aggregate)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_aggregate", "aggregate_type", "aggregate_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class HandledEvent(db.Model):
    """Written by a consumer in the same transaction as its effects."""

    __tablename__ = "handled_events"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventFailure(db.Model):
    """A consumer's failed attempts at one event; the aggregate's later events wait behind it."""

    __tablename__ = "event_failures"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    WAITING = "waiting: "  # a consumer's guard deferred the event; it did not fail

    @property
    def is_wait(self) -> bool:
        return self.attempts == 0 and self.last_error.startswith(self.WAITING)


class ConsumerWatermark(db.Model):
    """Every event up to `handled_through` is handled by the consumer: where a look for its pending
    events may start. Advanced by a periodic job, never past an event that might still commit."""

    __tablename__ = "consumer_watermarks"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_through: Mapped[int] = mapped_column(BigInteger, default=0)
    advanced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
