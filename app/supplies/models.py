from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.orders.models import Order
from app.platform.clock import utcnow


class Kit(db.Model):
    """The kit the consumables department packs for one order (US-150, US-160)."""

    __tablename__ = "kits"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_without_cookie: Mapped[bool] = mapped_column(default=False)
    # When the department and the managers were warned that the slot is near and the kit not issued.
    late_warning_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    order: Mapped[Order] = relationship()
    issued_by: Mapped[User | None] = relationship()


class CookieRequest(db.Model):
    """One fortune-cookie request per order to the outside contractor (US-170)."""

    __tablename__ = "cookie_requests"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="channel_known"),
        CheckConstraint("status IN ('pending', 'sent', 'received')", name="status_known"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order: Mapped[Order] = relationship()
