"""Read-side queries every billing page shares: accounts, ledger lines, invoices (US-220, US-230).

A party's own statement is in app.billing.statements, the managers' overview in app.billing.overview.

Every figure is a sum over the ledger (never a stored number), computed in a fixed number of
set-based statements whatever the number of lines, so the pages have no N+1. Reads never create
ledger accounts: a party without an account simply has no money yet.

Amounts are shown from the party's side ("natural sign"): for a client, positive is what they owe
(a charge) and negative what they paid; for a worker, positive is what they earned or were
credited and negative a fine or a payout. See app/billing/models.py for the stored sign convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.billing.models import (
    AccountKind,
    Invoice,
    InvoiceItem,
    InvoiceStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from app.extensions import db
from app.platform.money import format_money
from app.platform.paging import fetch_page, one_page, split_page

# +1: the stored balance reads naturally (debit-normal); -1: it is negated for display (credit-normal).
NATURAL_SIGN = {
    AccountKind.CLIENT: 1,  # what the client owes
    AccountKind.WORKER: -1,  # what we owe the worker
    AccountKind.REVENUE: -1,
    AccountKind.FINES: -1,
    AccountKind.PAYOUTS: 1,
    AccountKind.CASH: 1,
}
BALANCE_LABEL = {
    AccountKind.CLIENT: "owed by the client",
    AccountKind.WORKER: "owed to the worker",
    AccountKind.REVENUE: "revenue",
    AccountKind.FINES: "fines collected",
    AccountKind.PAYOUTS: "spent on workers",
    AccountKind.CASH: "cash",
}
UNPAID_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.FAILED, InvoiceStatus.AWAITING_MANUAL)


def natural_sign(kind: str) -> int:
    return NATURAL_SIGN.get(kind, 1)


# ---------------------------------------------------------------- accounts


def party_account_id(kind: AccountKind, user_id: int) -> int | None:
    """The party's ledger account id, or None if no money was ever recorded for them (never creates one)."""
    return db.session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.kind == kind, LedgerAccount.user_id == user_id)
    )


@dataclass(frozen=True)
class AccountRow:
    id: int
    kind: str
    user_id: int | None
    name: str
    email: str
    balance_cents: int  # in the natural sign of the account's kind

    @property
    def label(self) -> str:
        return BALANCE_LABEL.get(self.kind, "balance")


def _balance_subquery():
    return (
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.account_id == LedgerAccount.id)
        .correlate(LedgerAccount)
        .scalar_subquery()
    )


def _account_rows(rows) -> list[AccountRow]:
    return [
        AccountRow(
            id=row.id,
            kind=row.kind,
            user_id=row.user_id,
            name=row.name or f"Company: {row.kind}",
            email=row.email or "",
            balance_cents=natural_sign(row.kind) * int(row.balance),
        )
        for row in rows
    ]


def _accounts_query():
    return select(
        LedgerAccount.id,
        LedgerAccount.kind,
        LedgerAccount.user_id,
        User.name,
        User.email,
        _balance_subquery().label("balance"),
    ).outerjoin(User, User.id == LedgerAccount.user_id)


def accounts(page: int, per_page: int, search: str = "") -> tuple[list[AccountRow], bool]:
    """Ledger accounts (the company's first, then parties by name) with balances; one statement."""
    query = _accounts_query()
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(User.name.ilike(pattern), User.email.ilike(pattern)))
    query = query.order_by(LedgerAccount.user_id.is_not(None), User.name, LedgerAccount.kind, LedgerAccount.id)
    rows, has_next = split_page(db.session.execute(one_page(query, page, per_page)), per_page)
    return _account_rows(rows), has_next


def account(account_id: int) -> AccountRow | None:
    row = db.session.execute(_accounts_query().where(LedgerAccount.id == account_id)).one_or_none()
    return _account_rows([row])[0] if row is not None else None


# ---------------------------------------------------------------- ledger lines


@dataclass(frozen=True)
class LedgerLine:
    entry_id: int
    transaction_id: int
    kind: str
    description: str
    occurred_at: datetime
    order_id: int | None
    invoice_id: int | None
    amount_cents: int  # natural sign
    running_cents: int  # the account's balance after this line, natural sign
    created_by: str | None


def ledger_lines(account_id: int | None, page: int = 1, per_page: int = 25, sign: int = 1):
    """An account's entries, newest first, each with the running balance after it; (lines, has_next).

    One statement: a window sum over the account's entries in booking order, then the page.
    """
    if account_id is None:
        return [], False
    running = (
        func.sum(LedgerEntry.amount_cents)
        .over(order_by=(LedgerEntry.occurred_at, LedgerEntry.id), rows=(None, 0))
        .label("running")
    )
    window = (
        select(LedgerEntry.id, LedgerEntry.transaction_id, LedgerEntry.amount_cents, LedgerEntry.occurred_at, running)
        .where(LedgerEntry.account_id == account_id)
        .subquery()
    )
    creator = aliased(User)
    query = (
        select(
            window.c.id,
            window.c.transaction_id,
            window.c.amount_cents,
            window.c.occurred_at,
            window.c.running,
            LedgerTransaction.kind,
            LedgerTransaction.description,
            LedgerTransaction.order_id,
            LedgerTransaction.invoice_id,
            creator.name.label("creator"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == window.c.transaction_id)
        .outerjoin(creator, creator.id == LedgerTransaction.created_by_id)
        .order_by(window.c.occurred_at.desc(), window.c.id.desc())
    )
    rows, has_next = split_page(db.session.execute(one_page(query, page, per_page)), per_page)
    lines = [
        LedgerLine(
            entry_id=row.id,
            transaction_id=row.transaction_id,
            kind=row.kind,
            description=row.description,
            occurred_at=row.occurred_at,
            order_id=row.order_id,
            invoice_id=row.invoice_id,
            amount_cents=sign * int(row.amount_cents),
            running_cents=sign * int(row.running),
            created_by=row.creator,
        )
        for row in rows
    ]
    return lines, has_next


# ---------------------------------------------------------------- invoices


def party_invoices(party_kind: str, user_id: int, page: int = 1, per_page: int = 12) -> tuple[list[Invoice], bool]:
    """The party's invoices, newest period first; (invoices, has_next)."""
    return fetch_page(
        select(Invoice)
        .where(Invoice.party_kind == party_kind, Invoice.user_id == user_id)
        .order_by(Invoice.period_start.desc(), Invoice.id.desc()),
        page,
        per_page,
    )


def unpaid_invoices(party_kind: str, user_id: int) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.party_kind == party_kind, Invoice.user_id == user_id, Invoice.status.in_(UNPAID_STATUSES))
            .order_by(Invoice.period_start.desc(), Invoice.id.desc())
        )
    )


def own_invoice(invoice_id: int, party_kind: str, user_id: int) -> Invoice | None:
    """The invoice if it is this party's, else None (the page answers 404)."""
    return db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.party_kind == party_kind, Invoice.user_id == user_id)
    )


@dataclass(frozen=True)
class InvoiceLine:
    transaction_id: int
    kind: str
    description: str
    occurred_at: datetime
    order_id: int | None
    amount_cents: int  # natural sign, on the party's account


def invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    """The ledger transactions the invoice covers, with their amount on the party's account; one statement."""
    sign = natural_sign(invoice.party_kind)
    rows = db.session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.description,
            LedgerTransaction.occurred_at,
            LedgerTransaction.order_id,
            func.sum(LedgerEntry.amount_cents).label("amount"),
        )
        .join(InvoiceItem, InvoiceItem.transaction_id == LedgerTransaction.id)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            InvoiceItem.invoice_id == invoice.id,
            LedgerAccount.kind == invoice.party_kind,
            LedgerAccount.user_id == invoice.user_id,
        )
        .group_by(LedgerTransaction.id)
        .order_by(LedgerTransaction.occurred_at, LedgerTransaction.id)
    )
    return [
        InvoiceLine(row.id, row.kind, row.description, row.occurred_at, row.order_id, sign * int(row.amount))
        for row in rows
    ]


def invoice_settlements(invoice: Invoice) -> list[LedgerTransaction]:
    """Payments or payouts posted for the invoice."""
    return list(
        db.session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.invoice_id == invoice.id).order_by(LedgerTransaction.id)
        )
    )


# ---------------------------------------------------------------- an invoice's breakdown, in words

# What each figure of `Invoice.breakdown` is: money in cents, or a count.
BREAKDOWN_MONEY = {"charges": "Charges", "earnings": "Earnings", "fines": "Fines", "credits": "Credits"}
BREAKDOWN_COUNTS = {"items": "Charges included", "orders": "Orders included"}


def breakdown_lines(invoice: Invoice) -> list[tuple[str, str]]:
    """(label, text) for each figure of the invoice's breakdown, worded for people: money as money,
    counts as counts, and lines that came in after their own period (posted late) explained."""
    breakdown = invoice.breakdown or {}
    lines = []
    for key, label in BREAKDOWN_MONEY.items():
        if key in breakdown:
            lines.append((label, format_money(int(breakdown[key]))))
    for key, label in BREAKDOWN_COUNTS.items():
        if key in breakdown:
            lines.append((label, str(int(breakdown[key]))))
    late = int(breakdown.get("late") or 0)
    if late:
        lines.append(("From earlier periods", f"{late} posted after their own period closed"))
    return lines


@dataclass(frozen=True)
class OrderPosting:
    """One money movement of an order: the client's charge, the worker's earning or fine."""

    kind: str  # charge | earning | fine | other
    description: str
    amount_cents: int
    occurred_at: datetime


def order_postings(order_id: int) -> list[OrderPosting]:
    """What the order charged, earned and fined (its ledger transactions), oldest first, one statement."""
    amount = func.sum(case((LedgerEntry.amount_cents > 0, LedgerEntry.amount_cents), else_=0))
    rows = db.session.execute(
        select(LedgerTransaction.idempotency_key, LedgerTransaction.description, LedgerTransaction.occurred_at, amount)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.order_id == order_id)
        .group_by(LedgerTransaction.id)
        .order_by(LedgerTransaction.occurred_at, LedgerTransaction.id)
    ).all()
    postings = []
    for key, description, occurred_at, cents in rows:
        kind = key.rsplit(":", 1)[-1] if key.startswith(f"order:{order_id}:") else "other"
        postings.append(OrderPosting(kind, description, int(cents or 0), occurred_at))
    return postings
