"""Helpers for billing runs tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

from sqlalchemy import func, select

from app.billing import ledger
from app.billing.models import (
    AccountKind,
    BillingRun,
    Invoice,
    LedgerTransaction,
    PaymentAttempt,
    SandboxPayment,
    TransactionKind,
)
from app.billing.processes import runs
from app.extensions import db
from app.notifications.models import OutboxEmail

_keys = itertools.count(1)


def _post(kind: str, user_id: int, cents: int, at: datetime, entries) -> LedgerTransaction:
    key = f"test:{kind}:{user_id}:{next(_keys)}"
    transaction, _new = ledger.post(key, kind, f"test {kind}", at, entries)
    return transaction


def charge(client, cents: int, at: datetime) -> LedgerTransaction:
    """A client charged for an order (client debit, revenue credit)."""
    account = ledger.account_id(AccountKind.CLIENT, client.id)
    revenue = ledger.account_id(AccountKind.REVENUE)
    return _post(TransactionKind.CHARGE, client.id, cents, at, [(account, cents), (revenue, -cents)])


def earning(worker, cents: int, at: datetime) -> LedgerTransaction:
    account = ledger.account_id(AccountKind.WORKER, worker.id)
    payouts = ledger.account_id(AccountKind.PAYOUTS)
    return _post(TransactionKind.EARNING, worker.id, cents, at, [(payouts, cents), (account, -cents)])


def fine(worker, cents: int, at: datetime) -> LedgerTransaction:
    account = ledger.account_id(AccountKind.WORKER, worker.id)
    fines = ledger.account_id(AccountKind.FINES)
    return _post(TransactionKind.FINE, worker.id, cents, at, [(account, cents), (fines, -cents)])


def credit(worker, cents: int, at: datetime) -> LedgerTransaction:
    account = ledger.account_id(AccountKind.WORKER, worker.id)
    payouts = ledger.account_id(AccountKind.PAYOUTS)
    return _post(TransactionKind.CREDIT, worker.id, cents, at, [(payouts, cents), (account, -cents)])


def bill(kind: str, now: datetime) -> BillingRun:
    """Close the ended days (the daily close), then execute a run of `kind` as of `now` (commits)."""
    db.session.commit()
    if kind != runs.DAILY_CLOSE:
        close = BillingRun(kind=runs.DAILY_CLOSE, status="running", summary={})
        db.session.add(close)
        db.session.commit()
        runs.execute(close.id, now)
    run = BillingRun(kind=kind, status="running", summary={})
    db.session.add(run)
    db.session.commit()
    return runs.execute(run.id, now)


def invoices(party_kind: str | None = None, user=None) -> list[Invoice]:
    db.session.rollback()
    query = select(Invoice).order_by(Invoice.user_id, Invoice.period_start)
    if party_kind:
        query = query.where(Invoice.party_kind == party_kind)
    if user is not None:
        query = query.where(Invoice.user_id == user.id)
    return list(db.session.scalars(query))


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def payments_count(kind: str = TransactionKind.PAYMENT) -> int:
    return count(LedgerTransaction, LedgerTransaction.kind == kind)


def sandbox_count() -> int:
    return count(SandboxPayment)


def attempts_count() -> int:
    return count(PaymentAttempt)


def mail(user) -> list[str]:
    """The templates queued for a person, in their sequence order."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OutboxEmail.template)
            .where(OutboxEmail.recipient == user.email.lower())
            .order_by(OutboxEmail.sequence)
        )
    )


def balance(kind: AccountKind, user) -> int:
    db.session.rollback()
    return ledger.balance(ledger.account_id(kind, user.id))


def run_twice_at_once(app, now: datetime, timeout: float) -> None:
    """Two weekly and two monthly runs executed at the same moment in four threads (as two workers
    would); every run must end without an error."""
    ids = []
    for kind in (runs.WEEKLY_CLIENTS, runs.WEEKLY_CLIENTS, runs.MONTHLY_WORKERS, runs.MONTHLY_WORKERS):
        run = BillingRun(kind=kind, status="running", summary={})
        db.session.add(run)
        db.session.commit()
        ids.append(run.id)
    errors = []
    barrier = threading.Barrier(len(ids))

    def execute(run_id: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                runs.execute(run_id, now)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=execute, args=(run_id,)) for run_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert errors == []
