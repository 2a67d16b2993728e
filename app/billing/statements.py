"""A party's own money: what a client owes and paid (US-250, US-040), what a worker earned, was fined,
credited and paid (US-260, US-270). Sums over the ledger, a fixed number of statements each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.billing.models import (
    AccountKind,
    Invoice,
    InvoiceItem,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from app.billing.periods import local_day, month_of, week_of
from app.billing.queries import UNPAID_STATUSES, party_account_id
from app.extensions import db
from app.orders import pricing
from app.platform.clock import utcnow


@dataclass(frozen=True)
class ClientMoney:
    week_start: date
    week_end: date  # the last day (Sunday)
    due_this_week_cents: int  # uninvoiced charges up to the week's end: the next invoice
    charged_this_week_cents: int
    unpaid_invoices_cents: int
    balance_cents: int  # everything charged minus everything paid


def client_money(user_id: int, now: datetime | None = None) -> ClientMoney:
    """What the client will owe at the end of this week (their uninvoiced charges), and their balance."""
    now = now or utcnow()
    week = week_of(local_day(now))
    account_id = party_account_id(AccountKind.CLIENT, user_id)
    charged = uninvoiced = balance = 0
    if account_id is not None:
        is_charge = LedgerTransaction.kind == TransactionKind.CHARGE
        not_invoiced = ~exists().where(InvoiceItem.transaction_id == LedgerTransaction.id)
        row = db.session.execute(
            select(
                func.coalesce(func.sum(LedgerEntry.amount_cents), 0).label("balance"),
                func.coalesce(
                    func.sum(LedgerEntry.amount_cents).filter(
                        is_charge, not_invoiced, LedgerEntry.occurred_at < week.ends_at
                    ),
                    0,
                ).label("uninvoiced"),
                func.coalesce(
                    func.sum(LedgerEntry.amount_cents).filter(
                        is_charge, LedgerEntry.occurred_at >= week.starts_at, LedgerEntry.occurred_at < week.ends_at
                    ),
                    0,
                ).label("charged"),
            )
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account_id == account_id)
        ).one()
        charged, uninvoiced, balance = int(row.charged), int(row.uninvoiced), int(row.balance)
    unpaid = db.session.scalar(
        select(func.coalesce(func.sum(Invoice.amount_cents), 0)).where(
            Invoice.party_kind == AccountKind.CLIENT, Invoice.user_id == user_id, Invoice.status.in_(UNPAID_STATUSES)
        )
    )
    return ClientMoney(
        week_start=week.start,
        week_end=week.end - timedelta(days=1),
        due_this_week_cents=uninvoiced,
        charged_this_week_cents=charged,
        unpaid_invoices_cents=int(unpaid),
        balance_cents=balance,
    )


# ---------------------------------------------------------------- the worker's money (US-260, US-270)


@dataclass(frozen=True)
class WorkerMoney:
    month_start: date
    earned_month_cents: int
    fines_month_cents: int  # positive: what was taken
    credits_month_cents: int
    net_month_cents: int  # earned - fines + credits this month
    earned_total_cents: int
    fines_total_cents: int
    credits_total_cents: int
    paid_out_total_cents: int
    owed_cents: int  # the account's balance from the worker's side: what we owe them now (negative: a debt)


def worker_money(user_id: int, now: datetime | None = None) -> WorkerMoney:
    """This month's earnings, fines and credits, all-time totals and the balance; one statement."""
    now = now or utcnow()
    month = month_of(local_day(now))
    account_id = party_account_id(AccountKind.WORKER, user_id)
    month_sums: dict[str, int] = {}
    totals: dict[str, int] = {}
    if account_id is not None:
        in_month = and_(LedgerEntry.occurred_at >= month.starts_at, LedgerEntry.occurred_at < month.ends_at)
        rows = db.session.execute(
            select(
                LedgerTransaction.kind,
                func.coalesce(func.sum(LedgerEntry.amount_cents).filter(in_month), 0).label("month"),
                func.sum(LedgerEntry.amount_cents).label("total"),
            )
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account_id == account_id)
            .group_by(LedgerTransaction.kind)
        )
        for row in rows:
            month_sums[row.kind] = int(row.month)
            totals[row.kind] = int(row.total)
    earned = -month_sums.get(TransactionKind.EARNING, 0)
    fines = month_sums.get(TransactionKind.FINE, 0)
    credits = -month_sums.get(TransactionKind.CREDIT, 0)
    return WorkerMoney(
        month_start=month.start,
        earned_month_cents=earned,
        fines_month_cents=fines,
        credits_month_cents=credits,
        net_month_cents=earned - fines + credits,
        earned_total_cents=-totals.get(TransactionKind.EARNING, 0),
        fines_total_cents=totals.get(TransactionKind.FINE, 0),
        credits_total_cents=-totals.get(TransactionKind.CREDIT, 0),
        paid_out_total_cents=totals.get(TransactionKind.PAYOUT, 0),
        owed_cents=-sum(totals.values()),
    )


@dataclass(frozen=True)
class CreditLine:
    transaction_id: int
    occurred_at: datetime
    amount_cents: int  # to the worker (negative: taken back)
    description: str
    created_by: str | None


def worker_credits(user_id: int, limit: int = 50) -> list[CreditLine]:
    """Manager credits to the worker, newest first, with who did it and why (US-270); one statement."""
    account_id = party_account_id(AccountKind.WORKER, user_id)
    if account_id is None:
        return []
    creator = aliased(User)
    rows = db.session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.occurred_at,
            LedgerTransaction.description,
            LedgerEntry.amount_cents,
            creator.name.label("creator"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(creator, creator.id == LedgerTransaction.created_by_id)
        .where(LedgerEntry.account_id == account_id, LedgerTransaction.kind == TransactionKind.CREDIT)
        .order_by(LedgerTransaction.occurred_at.desc(), LedgerTransaction.id.desc())
        .limit(limit)
    )
    return [CreditLine(row.id, row.occurred_at, -int(row.amount_cents), row.description, row.creator) for row in rows]


# ---------------------------------------------------------------- what a client has paid (US-040)


@pricing.paid_total_source
def paid_total_cents(client_id: int) -> int:
    """What the client has paid so far (US-040): the sum of their payments in the ledger.

    A payment is posted only when an invoice is paid (client account credited, cash debited), so
    unpaid or failed invoices count for nothing. Read at matching, so an order priced after the
    payment that crosses a tier gets the new discount.
    """
    credited = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind == AccountKind.CLIENT,
            LedgerAccount.user_id == client_id,
            LedgerTransaction.kind == TransactionKind.PAYMENT,
        )
    )
    return -int(credited)
