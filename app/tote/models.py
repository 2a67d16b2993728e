"""The tote's tables: pools (its own copy of what it needs about orders), bets, settlements, and a
ledger of its own (accounts, transactions, entries) in integer cents.

Ledger sign convention: an entry is positive for a debit, negative for a credit, and a
transaction's entries sum to zero. A stake moves money from the bettor (negative) into the stakes
account (positive); settlement moves the pot from the stakes to the winners, or to the developers'
house account when nobody won (US-281); a withdrawal reverses a stake; a settle-up transfer moves
the payer up and the payee down. So a bettor's balance is what they are up (positive) or down.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.platform.clock import utcnow


class Outcome(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


OUTCOMES = tuple(Outcome)


class PoolStatus(StrEnum):
    OPEN = "open"  # bets accepted until closes_at (the order's slot start)
    CLOSED = "closed"  # the order checked in (or the close time passed and an event said so)
    SETTLED = "settled"  # the order ended; the pot is paid out


class Pool(db.Model):
    """One order's betting pool, built from its events only (no foreign key to orders)."""

    __tablename__ = "tote_pools"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed', 'settled')", name="status_known"),
        CheckConstraint("outcome IS NULL OR outcome IN ('completed', 'cancelled', 'failed')", name="outcome_known"),
        Index("ix_tote_pools_status_closes", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    service: Mapped[str] = mapped_column(String(200), default="")
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Betting stops here whatever the events say: the slot start (a late close event cannot let a bet in).
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default=PoolStatus.OPEN)
    order_status: Mapped[str] = mapped_column(String(20), default="requested")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(10))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    bets: Mapped[list[Bet]] = relationship(back_populates="pool", order_by="Bet.id")


class Bet(db.Model):
    """An amount on one outcome of one pool; withdrawn while open, paid (or not) at settlement."""

    __tablename__ = "tote_bets"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("outcome IN ('completed', 'cancelled', 'failed')", name="outcome_known"),
        CheckConstraint("payout_cents IS NULL OR payout_cents >= 0", name="payout_not_negative"),
        Index("ix_tote_bets_pool", "pool_id", "outcome"),
        Index("ix_tote_bets_bettor", "bettor_id", "placed_at"),
        # Bets still in play (not withdrawn, not settled: settlement sets every payout, 0 for a loss).
        Index(
            "ix_tote_bets_in_play",
            "bettor_id",
            postgresql_where="payout_cents IS NULL AND withdrawn_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("tote_pools.id"))
    bettor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Withdrawn by the tote, not the bettor: placed after the check-in whose event was still on its way.
    void: Mapped[bool] = mapped_column(default=False)
    payout_cents: Mapped[int | None] = mapped_column(BigInteger)  # set once, at settlement

    pool: Mapped[Pool] = relationship(back_populates="bets")
    bettor: Mapped[User] = relationship()


class Settlement(db.Model):
    """The one settlement of a pool (the primary key makes a second one impossible)."""

    __tablename__ = "tote_settlements"

    pool_id: Mapped[int] = mapped_column(ForeignKey("tote_pools.id"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(10))
    pot_cents: Mapped[int] = mapped_column(BigInteger)
    winning_stakes_cents: Mapped[int] = mapped_column(BigInteger)
    house_cents: Mapped[int] = mapped_column(BigInteger)  # the pot when nobody won (US-281), else 0
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountKind(StrEnum):
    BETTOR = "bettor"  # a person's net position: positive = up
    STAKES = "stakes"  # money staked in pools not settled yet
    HOUSE = "house"  # the developers' pot (US-281)


class ToteAccount(db.Model):
    __tablename__ = "tote_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "user_id"),
        CheckConstraint("(kind = 'bettor') = (user_id IS NOT NULL)", name="bettor_accounts_have_a_user"),
        Index("uq_tote_accounts_house_kind", "kind", unique=True, postgresql_where="user_id IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User | None] = relationship()


class TransactionKind(StrEnum):
    STAKE = "stake"
    WITHDRAWAL = "withdrawal"
    SETTLEMENT = "settlement"
    TRANSFER = "transfer"  # settle-up: one person paid another (or the developers)


class ToteTransaction(db.Model):
    __tablename__ = "tote_transactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(12), index=True)
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("tote_pools.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entries: Mapped[list[ToteEntry]] = relationship(back_populates="transaction", lazy="selectin")
    created_by: Mapped[User | None] = relationship()


class ToteEntry(db.Model):
    __tablename__ = "tote_entries"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        Index("ix_tote_entries_account", "account_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("tote_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("tote_accounts.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    transaction: Mapped[ToteTransaction] = relationship(back_populates="entries")
    account: Mapped[ToteAccount] = relationship()
