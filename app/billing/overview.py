"""The managers' billing overview: weekly totals, invoice counts and lists, runs, the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from app.billing.models import (
    AccountKind,
    BillingRun,
    Invoice,
    InvoiceStatus,
    LedgerAccount,
    LedgerEntry,
    RunKind,
    SandboxSetting,
)
from app.billing.periods import local_day, local_midnight, week_of
from app.billing.queries import UNPAID_STATUSES, natural_sign
from app.extensions import db
from app.platform.clock import company_zone, utcnow
from app.platform.paging import fetch_page

RUN_KINDS = {kind.value: kind.label for kind in RunKind}


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
    local_week = func.date_trunc("week", func.timezone(company_zone().key, LedgerEntry.occurred_at))
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
    return fetch_page(
        select(Invoice)
        .where(Invoice.status.in_(statuses))
        .options(joinedload(Invoice.user))
        .order_by(urgency, Invoice.period_start, Invoice.id),
        page,
        per_page,
    )


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
    """A running run whose heartbeat stopped (its worker died): shown as stalled, with a resume
    button; the same rule as `processes.runs.is_stale`."""
    if run.status != "running":
        return False
    limit = timedelta(seconds=current_app.config["BILLING_RUN_STALE_SECONDS"])
    return (now or utcnow()) - run.heartbeat_at > limit


def parked_parties() -> list:
    """Parties whose billing is held by a failing billing event (issue 13), oldest first."""
    from app.billing.processes.parked import open_parks

    return open_parks()


def sandbox_setting() -> SandboxSetting | None:
    """The sandbox provider's settings row, if any (read only; the providers module owns writes)."""
    return db.session.scalar(select(SandboxSetting).order_by(SandboxSetting.id).limit(1))


def _counted(values: list, noun: str, done: str, none: str) -> str:
    if not values:
        return none
    return f"{len(values)} {noun}{'s' if len(values) != 1 else ''} {done} ({_dates(values)})"


def _dates(values: list) -> str:
    days = sorted(str(value) for value in values)
    if not days:
        return ""
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def run_summary_text(summary: dict | None) -> str:
    """A run's summary in words for people: counts and date ranges, never a Python list."""
    summary = dict(summary or {})
    summary.pop("as_of", None)  # the business moment a run bills up to: bookkeeping, not news
    parts = []
    periods = summary.pop("periods", None)
    if periods is not None:
        parts.append(_counted(periods, "period", "billed", "no period due"))
    days = summary.pop("days", None)
    if days is not None:
        parts.append(_counted(days, "day", "closed", "no day to close"))
    for key, value in summary.items():
        label = key.replace("_", " ")
        if isinstance(value, list | tuple):
            parts.append(f"{label}: {len(value)}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if value:
                parts.append(f"{value} {label}")
        elif value not in (None, "", False):
            parts.append(f"{label}: {value}")
    return "; ".join(parts) if parts else "nothing to do"
