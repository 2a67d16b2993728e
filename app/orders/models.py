from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.labels import LabelledEnum

DEFAULT_BASE_PRICE_CENTS = 100_00  # US-050: every service costs 100 units before discount


class OrderStatus(LabelledEnum):
    REQUESTED = "requested", "Requested"
    MATCHED = "matched", "Matched"
    KIT_ISSUED = "kit_issued", "Kit issued"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


STATUS_LABELS = {status: status.label for status in OrderStatus}
ACTIVE_STATUSES = (OrderStatus.REQUESTED, OrderStatus.MATCHED, OrderStatus.KIT_ISSUED, OrderStatus.IN_PROGRESS)
FINISHED_STATUSES = (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED)


class ServiceType(db.Model):
    """What a client can order (US-021): its price and the consumables its kit needs."""

    __tablename__ = "service_types"
    __table_args__ = (
        CheckConstraint("base_price_cents >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    base_price_cents: Mapped[int] = mapped_column(Integer, default=DEFAULT_BASE_PRICE_CENTS)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    # Skills a good worker for it has; matching compares them with strengths and weaknesses.
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    consumables: Mapped[list[str]] = mapped_column(ARRAY(String(120)), default=list)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class Order(db.Model):
    """A client's request for help and everything that happens to it.

    The status changes only through app.orders.states; every change is also an event, so the
    events of aggregate ("order", id) are the order's timeline.
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('requested', 'matched', 'kit_issued', 'in_progress', 'completed', 'cancelled', 'failed')",
            name="status_known",
        ),
        CheckConstraint("slot_end > slot_start", name="slot_ordered"),
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
        Index("ix_orders_client_slot", "client_id", "slot_start"),
        Index("ix_orders_worker_slot", "worker_id", "slot_start"),
        # Matching's "past results" counts finished orders per worker and status for every candidate.
        Index("ix_orders_worker_status", "worker_id", "status"),
        Index("ix_orders_status_slot", "status", "slot_start"),
        # The managers' table (app.orders.table): its default sort and keyset pages, the same under a
        # status filter, and the date-range filter (counts per status read from the index alone).
        Index("ix_orders_created_id", "created_at", "id"),
        # With the slot included, a status and date-range filter is checked in the index alone.
        Index("ix_orders_status_created_id", "status", "created_at", "id", postgresql_include=["slot_start"]),
        Index("ix_orders_slot_status_id", "slot_start", "status", "id", postgresql_include=["created_at"]),
        # The table's worker filter (a worker has up to thousands of orders): counted and sorted by
        # any column of the table from the index alone.
        Index(
            "ix_orders_worker_status_sorts",
            "worker_id",
            "status",
            postgresql_include=["created_at", "slot_start", "price_cents"],
        ),
        # Who is booked at a time: the overlap search of matching (and its re-check under the
        # worker's lock) reads only the booked orders whose slot overlaps, whatever the history.
        Index(
            "ix_orders_booked_during",
            text("tstzrange(slot_start, slot_end)"),
            postgresql_using="gist",
            postgresql_where=text("status IN ('matched', 'kit_issued', 'in_progress')"),
        ),
        # One order per request form: a double submit of the same form finds the first order.
        UniqueConstraint("client_id", "request_token"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_types.id"))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    slot_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.REQUESTED)

    # The price is fixed when a worker is matched (US-050), with the discount of that moment.
    base_price_cents: Mapped[int | None] = mapped_column(Integer)
    discount_percent: Mapped[int | None] = mapped_column(Integer)
    price_cents: Mapped[int | None] = mapped_column(Integer)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kit_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finish_reason: Mapped[str] = mapped_column(Text, default="")
    finished_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    checkin_photo: Mapped[str | None] = mapped_column(String(255))
    report_photo: Mapped[str | None] = mapped_column(String(255))

    # The request form's idempotency key (a random token rendered into the form); null for orders
    # made otherwise (a rebooked copy, demo data).
    request_token: Mapped[str | None] = mapped_column(String(64))
    # Matching gave the worker this order although they already had one at an overlapping time,
    # because nobody suitable was free (US-073 always assigns someone): managers see it flagged.
    double_booked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # A no-show's copy (US-132) points at the order it replaces; one copy per failed order.
    rebooked_from_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)

    client: Mapped[User] = relationship(foreign_keys=[client_id])
    worker: Mapped[User | None] = relationship(foreign_keys=[worker_id])
    finished_by: Mapped[User | None] = relationship(foreign_keys=[finished_by_id])
    service_type: Mapped[ServiceType] = relationship()
    rebooked_from: Mapped[Order | None] = relationship(remote_side=[id], foreign_keys=[rebooked_from_id])

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[OrderStatus(self.status)]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class OrderStatusCount(db.Model):
    """How many orders each status has, as signed deltas: the status's count is the sum of its rows.

    Triggers on `orders` (migration pages_0001) add the rows in the transaction that inserts,
    moves or deletes orders, whatever path writes them, so the sum is exact in every snapshot; no
    row is ever updated, so concurrent transitions never wait on one another. app.orders.counts
    reads the sums and folds the rows into one per status from time to time."""

    __tablename__ = "order_status_counts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    delta: Mapped[int] = mapped_column(BigInteger)


class OrderSlotCount(db.Model):
    """The same counts per status, per hour (UTC) of the slot's start: the orders of a range of days
    are counted by summing its hours (a week is at most 168 x 7 rows after a fold), whatever the
    number of orders. Kept by the same triggers, folded by the same job."""

    __tablename__ = "order_slot_counts"
    __table_args__ = (Index("ix_order_slot_counts_hour", "slot_hour", "status", postgresql_include=["delta"]),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slot_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    delta: Mapped[int] = mapped_column(BigInteger)


# The managers' table filters orders by part of a worker's or client's name or email
# (app.orders.table._people): trigram indexes serve lower(column) LIKE '%term%'. Migration pages_0001
# creates them where PostgreSQL has the pg_trgm module (the embedded development server may not:
# there the search scans the users, as it did before).
# Indexes a database may lack (no pg_trgm): tests/domain/accounts/test_migrations.py allows that.
OPTIONAL_INDEXES = {"ix_users_name_trgm": "pg_trgm", "ix_users_email_trgm": "pg_trgm"}
Index("ix_users_name_trgm", func.lower(User.name), postgresql_using="gin", postgresql_ops={"lower_1": "gin_trgm_ops"})
Index("ix_users_email_trgm", func.lower(User.email), postgresql_using="gin", postgresql_ops={"lower_1": "gin_trgm_ops"})
