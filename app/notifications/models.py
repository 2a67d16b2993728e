from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.clock import utcnow
from app.platform.labels import LabelledEnum


class EmailStatus(LabelledEnum):
    PENDING = "pending", "Waiting"
    SENT = "sent", "Sent"
    DEAD = "dead", "Dead-lettered"


class OutboxEmail(db.Model):
    """One message to one recipient. `sequence` orders a recipient's mail; gaps are allowed."""

    __tablename__ = "outbox_emails"
    __table_args__ = (
        UniqueConstraint("recipient", "sequence"),
        CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status_known"),
        # The sender's question: "what is the next unsent message of this recipient?"
        Index(
            "ix_outbox_emails_recipient_pending",
            "recipient",
            "sequence",
            postgresql_where="status = 'pending'",
        ),
        Index("ix_outbox_emails_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    sequence: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(250))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecipientSequence(db.Model):
    """The last sequence number handed out per recipient; its row lock serialises allocation."""

    __tablename__ = "email_recipient_sequences"

    recipient: Mapped[str] = mapped_column(String(254), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
