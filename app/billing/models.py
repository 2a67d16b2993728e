"""Billing tables: the ledger (immutable, balanced, integer cents), day closes, invoices, runs.

Sign convention: an entry's amount is positive for a debit and negative for a credit, and the
entries of a transaction sum to zero. A client's account is what they owe us (a charge debits
it, a payment credits it); a worker's account is what we owe them, negated (an earning or a
credit credits it, a fine or a payout debits it).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.labels import LabelledEnum


class AccountKind(StrEnum):
    CLIENT = "client"  # receivable: what the client owes
    WORKER = "worker"  # payable: what we owe the worker (negative balance)
    REVENUE = "revenue"  # the company's income from orders
    PAYOUTS = "payouts"  # what the company spends on workers: earnings and manager credits
    FINES = "fines"  # the company's income from workers' fines
    CASH = "cash"  # money received from clients and paid out to workers


PARTY_KINDS = (AccountKind.CLIENT, AccountKind.WORKER)


class TransactionKind(LabelledEnum):
    CHARGE = "charge", "Charge"  # a client is charged for an order (US-030, US-031)
    EARNING = "earning", "Earning"  # a worker earns 60% of a completed order (US-230)
    FINE = "fine", "Fine"  # a worker is fined for a failed order (US-240)
    CREDIT = "credit", "Credit"  # a manager credits a worker (US-270)
    PAYMENT = "payment", "Payment"  # a client's payment of an invoice (US-220)
    PAYOUT = "payout", "Payout"  # a worker's invoice paid out through Golden Hat (US-230)


class LedgerAccount(db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "user_id"),
        CheckConstraint("(kind IN ('client', 'worker')) = (user_id IS NOT NULL)", name="party_accounts_have_a_user"),
        # The company's accounts have no user: one each, which the unique constraint can't enforce
        # (NULLs are distinct), so this index does.
        Index("uq_ledger_accounts_company_kind", "kind", unique=True, postgresql_where="user_id IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User | None] = relationship()


class LedgerTransaction(db.Model):
    """One money event, with a unique idempotency key and a description a person can read."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_kind_occurred", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    # When it happened in business terms (the order's completion, the payment): it decides the
    # day, week and month the money belongs to.
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # Set at creation for a payment or payout: the invoice it settles (never updated).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction", lazy="selectin")
    created_by: Mapped[User | None] = relationship()


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account_occurred", "account_id", "occurred_at"),
        # The daily close totals one day of all accounts: a range on occurred_at alone.
        Index("ix_ledger_entries_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Copied from the transaction so per-account sums over a period use one index.
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()


class DayClose(db.Model):
    """A closed day in the company's time zone: its postings are complete and totalled."""

    __tablename__ = "day_closes"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DailyTotal(db.Model):
    """Per account and closed day: the sum of its entries by transaction kind, for fast pages."""

    __tablename__ = "daily_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class InvoiceStatus(LabelledEnum):
    ISSUED = "issued", "Issued"  # created, payment not attempted yet (a run killed midway leaves these)
    PAID = "paid", "Paid"
    FAILED = "failed", "Payment failed"  # the last payment attempt failed; a retry is scheduled
    AWAITING_MANUAL = "awaiting_manual", "Awaiting payment"  # the manual adapter: a manager marks it paid
    NOTHING_DUE = "nothing_due", "Nothing due"  # a worker's month at zero or below: the debt carries over


class RunKind(LabelledEnum):
    DAILY_CLOSE = "daily_close", "Daily close"
    WEEKLY_CLIENTS = "weekly_clients", "Weekly client invoices"
    MONTHLY_WORKERS = "monthly_workers", "Monthly worker invoices"
    PAYMENT_RETRIES = "payment_retries", "Payment retries"


class Invoice(db.Model):
    """One invoice per party and period (US-220, US-230), held by a unique constraint."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("party_kind", "user_id", "period_start"),
        CheckConstraint("party_kind IN ('client', 'worker')", name="party_kind_known"),
        CheckConstraint(
            "status IN ('issued', 'paid', 'failed', 'awaiting_manual', 'nothing_due')", name="status_known"
        ),
        CheckConstraint("period_end > period_start", name="period_ordered"),
        Index("ix_invoices_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_invoices_user_period", "user_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The period in the company's calendar: [period_start, period_end) as local dates.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # What is to be paid: by the client for a week, to the worker for a month (0 when nothing is due).
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # The figures behind it, for the invoice page: e.g. {"charges": n, "earnings": n, "fines": n,
    # "credits": n, "carried_in": n, "orders": n}.
    breakdown: Mapped[dict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.ISSUED)
    provider: Mapped[str] = mapped_column(String(20), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"))

    user: Mapped[User] = relationship()


class InvoiceItem(db.Model):
    """Which ledger transactions an invoice covers; a transaction is invoiced at most once, so a
    charge posted late (after its week was billed) goes on the next invoice instead of being lost."""

    __tablename__ = "invoice_items"

    # Both references are checked by the database once per statement (a trigger, migration
    # billingperf_0001), not by foreign keys: a month's items are 900,000 rows at 1M orders, and a
    # foreign key checks and locks the referenced row for each of them.
    invoice_id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    __table_args__ = (UniqueConstraint("transaction_id"),)


class PaymentAttempt(db.Model):
    """Each call to a payment provider; its key is committed before the call, so a retry after a
    crash repeats the same key and the provider never charges twice."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        UniqueConstraint("invoice_id", "number"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    error: Mapped[str] = mapped_column(Text, default="")
    provider_reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BillingRun(db.Model):
    """A run of a billing job (daily close, weekly clients, monthly workers, payment retries)."""

    __tablename__ = "billing_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
        Index("ix_billing_runs_kind_started", "kind", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Progress for the manager's progress bar: done out of total steps (periods, payments).
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(JSONB, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    started_by: Mapped[User | None] = relationship()


class SandboxPayment(db.Model):
    """The sandbox provider's own book: one row per idempotency key (what a real provider keeps)."""

    __tablename__ = "sandbox_payments"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(10))  # charge | payout
    user_id: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    succeeded: Mapped[bool]
    error: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SandboxSetting(db.Model):
    """How the sandbox provider misbehaves: fail for some parties, or at a rate (set by managers/tests)."""

    __tablename__ = "sandbox_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    fail_user_ids: Mapped[list] = mapped_column(JSONB, default=list)
    fail_rate: Mapped[int] = mapped_column(Integer, default=0)  # percent of calls that fail
    # A provider's latency, for the demo (a run whose bar visibly moves): each answer comes after
    # 50% to 150% of this; SANDBOX_DELAY_SECONDS, when set, takes precedence.
    delay_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ParkedParty(db.Model):
    """A party whose billing is held because one of its billing events keeps failing (issue 13).

    The daily close parks the parties of such an event (the order's client and worker) and closes
    the day anyway; the runs bill everyone else and skip a party while it has an open park. Once
    the event is posted (its retry by the event queue, or a manager's retry) the park is resolved,
    and the party is billed on the invoice of the last period billed (`billed_at` says when).
    """

    __tablename__ = "billing_parked_parties"
    __table_args__ = (
        UniqueConstraint("party_kind", "user_id", "event_id"),
        CheckConstraint("party_kind IN ('client', 'worker')", name="party_kind_known"),
        # The runs look up the open parks of a party kind.
        Index("ix_billing_parked_parties_open", "party_kind", "user_id", postgresql_where="resolved_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)  # the closed day the event belongs to
    error: Mapped[str] = mapped_column(Text, default="")
    parked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retry_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    billed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class BillingSetting(db.Model):
    """Switches managers set on /manage/billing: one row (missing means the defaults)."""

    __tablename__ = "billing_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Off: the schedule still closes days, but weekly, monthly and retry runs wait for a manager's
    # Start (an incident, or the demo, which leaves its unbilled periods to the manager).
    automatic_runs: Mapped[bool] = mapped_column(default=True, server_default="true")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
