"""Read-side queries for the billing pages (US-220, US-230, US-250, US-260, US-270).

Every figure is a sum over the ledger (never a stored number), computed in a fixed number of
set-based statements whatever the number of lines, so the pages have no N+1. Reads never create
ledger accounts: a party without an account simply has no money yet.

Amounts are shown from the party's side ("natural sign"): for a client, positive is what they owe
(a charge) and negative what they paid; for a worker, positive is what they earned or were
credited and negative a fine or a payout. See app/billing/models.py for the stored sign convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from app.accounts.models import User
from app.billing.models import (
    AccountKind,
    BillingRun,
    Invoice,
    InvoiceItem,
    InvoiceStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    SandboxSetting,
    TransactionKind,
)
from app.billing.periods import local_day, local_midnight, month_of, week_of
from app.extensions import db
from app.platform.clock import utcnow

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
RUN_KINDS = {
    "daily_close": "Daily close",
    "weekly_clients": "Weekly client invoices",
    "monthly_workers": "Monthly worker payouts",
    "payment_retries": "Payment retries",
}


def natural_sign(kind: str) -> int:
    return NATURAL_SIGN.get(kind, 1)


def _zone_name() -> str:
    return current_app.config["COMPANY_TIMEZONE"]


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
    rows = _account_rows(db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page)))
    return rows[:per_page], len(rows) > per_page


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
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    )
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
        for row in db.session.execute(query)
    ]
    return lines[:per_page], len(lines) > per_page


# ---------------------------------------------------------------- invoices


def party_invoices(party_kind: str, user_id: int, page: int = 1, per_page: int = 12) -> tuple[list[Invoice], bool]:
    """The party's invoices, newest period first; (invoices, has_next)."""
    rows = list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.party_kind == party_kind, Invoice.user_id == user_id)
            .order_by(Invoice.period_start.desc(), Invoice.id.desc())
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
    )
    return rows[:per_page], len(rows) > per_page


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


# ---------------------------------------------------------------- the client's money (US-250, US-040)


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


# ---------------------------------------------------------------- the manager's overview


@dataclass(frozen=True)
class WeekTotals:
    start: date
    revenue_cents: int  # charged to clients
    payouts_cents: int  # earned by and credited to workers
    fines_cents: int

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


def weekly_totals(weeks: int = 12, now: datetime | None = None) -> list[WeekTotals]:
    """Revenue, payouts and fines per week (the company's weeks), oldest first, the current week last.

    One statement over the company accounts' entries, grouped by local week.
    """
    now = now or utcnow()
    current = week_of(local_day(now))
    first = current.start - timedelta(days=7 * (weeks - 1))
    local_week = func.date_trunc("week", func.timezone(_zone_name(), LedgerEntry.occurred_at))
    rows = db.session.execute(
        select(local_week.label("week"), LedgerAccount.kind, func.sum(LedgerEntry.amount_cents).label("amount"))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind.in_((AccountKind.REVENUE, AccountKind.PAYOUTS, AccountKind.FINES)),
            LedgerEntry.occurred_at >= local_midnight(first),
            LedgerEntry.occurred_at < current.ends_at,
        )
        .group_by(local_week, LedgerAccount.kind)
    )
    sums: dict[tuple[date, str], int] = {}
    for row in rows:
        sums[(row.week.date(), row.kind)] = natural_sign(row.kind) * int(row.amount)
    result = []
    for index in range(weeks):
        start = first + timedelta(days=7 * index)
        result.append(
            WeekTotals(
                start=start,
                revenue_cents=sums.get((start, AccountKind.REVENUE), 0),
                payouts_cents=sums.get((start, AccountKind.PAYOUTS), 0),
                fines_cents=sums.get((start, AccountKind.FINES), 0),
            )
        )
    return result


@dataclass
class InvoiceCounts:
    """Per party kind and status: how many invoices and their amount."""

    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def count(self, party_kind: str, status: str) -> int:
        return self.counts.get((party_kind, status), (0, 0))[0]

    def amount(self, party_kind: str, status: str) -> int:
        return self.counts.get((party_kind, status), (0, 0))[1]


def invoice_counts() -> InvoiceCounts:
    rows = db.session.execute(
        select(
            Invoice.party_kind, Invoice.status, func.count(), func.coalesce(func.sum(Invoice.amount_cents), 0)
        ).group_by(Invoice.party_kind, Invoice.status)
    )
    return InvoiceCounts({(kind, status): (int(count), int(amount)) for kind, status, count, amount in rows})


def invoices(statuses=UNPAID_STATUSES, page: int = 1, per_page: int = 25) -> tuple[list[Invoice], bool]:
    """Invoices in the given statuses (default: outstanding and failed), the oldest unpaid first."""
    urgency = case(
        (Invoice.status == InvoiceStatus.FAILED, 0), (Invoice.status == InvoiceStatus.AWAITING_MANUAL, 1), else_=2
    )
    rows = list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.status.in_(statuses))
            .options(joinedload(Invoice.user))
            .order_by(urgency, Invoice.period_start, Invoice.id)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
    )
    return rows[:per_page], len(rows) > per_page


def recent_runs(limit: int = 10) -> list[BillingRun]:
    return list(
        db.session.scalars(
            select(BillingRun)
            .options(joinedload(BillingRun.started_by))
            .order_by(BillingRun.started_at.desc(), BillingRun.id.desc())
            .limit(limit)
        )
    )


def run_is_stale(run: BillingRun, now: datetime | None = None) -> bool:
    """A running run whose heartbeat stopped (killed): the next run will take over its work."""
    if run.status != "running":
        return False
    limit = timedelta(seconds=current_app.config["BILLING_RUN_STALE_SECONDS"])
    return (now or utcnow()) - run.heartbeat_at > limit


def sandbox_setting() -> SandboxSetting | None:
    """The sandbox provider's settings row, if any (read only; the providers module owns writes)."""
    return db.session.scalar(select(SandboxSetting).order_by(SandboxSetting.id).limit(1))


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
