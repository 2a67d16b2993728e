"""Billing runs: weekly client invoices (US-220), monthly worker invoices
(US-230), payment retries and the daily close, idempotent and catching up.

Each run bills every closed period not billed yet, in order. A period's invoices are created by
one set-based statement (INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO NOTHING, with their
InvoiceItem rows in the same statement, so amount and items come from one snapshot) under a
transaction-scoped advisory lock per party kind: a concurrent run waits, then finds nothing to do,
and the unique constraints (one invoice per party and period, a transaction invoiced once) are the
last guard. Then every invoice due is settled through its provider (app/billing/processes/payments.py),
in batches, with BILLING_CONCURRENCY provider calls at once.

A charge or earning posted after its period was billed is never lost: it is not invoiced yet, so
the next period's invoice takes it (counted as "late" in the breakdown).

A worker's month: earnings - fines + credits of the month's (uninvoiced) transactions, plus what is
carried from before: everything earlier owed to the worker by the ledger minus what earlier invoices
took (amounts are never negative, so a negative month leaves a debt that the next month absorbs).
Computing the carry from the invoices rather than from the account balance keeps it right while an
earlier payout is still failing.

BillingRun rows record progress (total/done) and a heartbeat for the manager's progress bar. The
heartbeat is written every BILLING_HEARTBEAT_SECONDS by a thread of the run's job on a connection of
its own (so a run waiting on a slow provider still beats), and that connection holds a session
advisory lock on the run: PostgreSQL drops it the moment the process dies, so at most one process
executes a run at a time. A running run whose heartbeat is older than BILLING_RUN_STALE_SECONDS
(a few seconds beyond the interval) is stalled: a manager may resume it (`resume_run`, the same run
continued by a new job) or a new run of its kind may replace it. Resuming is safe because every
step of a run is idempotent: invoices are created once per party and period, and payment attempts
left pending are repeated with their committed keys (the provider answers with its first outcome).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Engine, func, select, text, update

from app.billing.models import (
    AccountKind,
    BillingRun,
    Invoice,
    InvoiceItem,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    ParkedParty,
    RunKind,
    TransactionKind,
)
from app.billing.periods import Period, local_day, month_cutoff, month_of, week_cutoff, week_of
from app.billing.processes import parked, payments
from app.events.models import Event, EventFailure
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.queues import enqueue
from app.platform.unit_of_work import after_commit
from app.platform.validation import ValidationError

log = logging.getLogger(__name__)

DAILY_CLOSE = RunKind.DAILY_CLOSE
WEEKLY_CLIENTS = RunKind.WEEKLY_CLIENTS
MONTHLY_WORKERS = RunKind.MONTHLY_WORKERS
PAYMENT_RETRIES = RunKind.PAYMENT_RETRIES
RUN_KINDS = {kind.value: kind.label for kind in RunKind}
EXECUTE_JOB = "app.billing.jobs.execute_run"
WORKER_TRANSACTION_KINDS = (TransactionKind.EARNING, TransactionKind.FINE, TransactionKind.CREDIT)


# ---------------------------------------------------------------- starting runs


def is_stale(run: BillingRun, now: datetime | None = None) -> bool:
    """A running run without a heartbeat for BILLING_RUN_STALE_SECONDS has stalled (its worker died)."""
    limit = timedelta(seconds=current_app.config["BILLING_RUN_STALE_SECONDS"])
    return run.status == "running" and (now or utcnow()) - run.heartbeat_at > limit


def start_run(kind: str, started_by=None, now: datetime | None = None) -> BillingRun:
    """Create a run row and enqueue its job on the `billing` queue after the commit (flushes only).

    Refuses a second running, non-stale run of the same kind; a stale one is marked failed.
    `now` (tests) is the business moment the job bills up to; the job uses the clock otherwise.
    """
    if kind not in RUN_KINDS:
        raise ValidationError(kind="Unknown billing run.")
    advisory_lock(f"billing-start:{kind}")
    running = db.session.scalars(
        select(BillingRun).where(BillingRun.kind == kind, BillingRun.status == "running").with_for_update()
    ).all()
    for other in running:
        if not is_stale(other):
            raise ValidationError(kind=f"{RUN_KINDS[kind]} are already running (run #{other.id}).")
        other.status = "failed"
        other.error = f"Stopped: no heartbeat since {other.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC."
        other.finished_at = utcnow()
    moment = now.isoformat() if now is not None else None
    # The business moment is kept on the run so that resuming it bills up to the same moment.
    summary = {"as_of": moment} if moment else {}
    run = BillingRun(kind=kind, status="running", started_by_id=getattr(started_by, "id", started_by), summary=summary)
    db.session.add(run)
    db.session.flush()
    run_id = run.id
    after_commit(lambda: enqueue("billing", EXECUTE_JOB, run_id, moment, job_timeout=3600))
    return run


def resume_run(run_id: int, resumed_by=None) -> BillingRun:
    """Continue a stalled run with a new job on the `billing` queue, enqueued after the commit (flushes).

    Only a running run without a recent heartbeat can be resumed (its process died). The new job
    takes the run's lock before doing anything, so should the old process still be alive after all,
    one of the two does nothing. It repeats what was left: periods not invoiced yet, invoices not
    paid yet, pending attempts with their committed keys (never a second charge).
    """
    run = db.session.scalar(
        select(BillingRun).where(BillingRun.id == run_id).with_for_update().execution_options(populate_existing=True)
    )
    if run is None:
        raise ValidationError(run="There is no such run.")
    if run.status != "running":
        raise ValidationError(run=f"Run #{run.id} is {run.status}: only a stalled run can be resumed.")
    if not is_stale(run):
        raise ValidationError(run=f"Run #{run.id} is alive (its heartbeat is recent): it needs no resuming.")
    summary = dict(run.summary or {})
    summary["resumed"] = int(summary.get("resumed") or 0) + 1
    run.summary = summary
    run.error = ""
    # Counted as alive again from now: the new job's heartbeat takes over once a worker picks it up.
    run.heartbeat_at = utcnow()
    db.session.flush()
    moment = summary.get("as_of")
    log.info("billing run #%s resumed by %s", run.id, getattr(resumed_by, "id", resumed_by))
    after_commit(lambda: enqueue("billing", EXECUTE_JOB, run_id, moment, job_timeout=3600))
    return run


class Heartbeat:
    """Holds a run's lock and beats for it on a connection of its own, from a thread.

    `acquire()` is False when another live process holds the run (then nothing must be done).
    Without an engine-bound session (the rollback-per-test fixture) it neither locks nor beats.
    """

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.interval = float(current_app.config.get("BILLING_HEARTBEAT_SECONDS") or 2.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection = None

    def acquire(self) -> bool:
        bind = db.session.get_bind()
        if not isinstance(bind, Engine):
            return True
        self._connection = bind.connect().execution_options(isolation_level="AUTOCOMMIT")
        held = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key()}).scalar()
        if not held:
            self._connection.close()
            self._connection = None
            return False
        self._beat()
        self._thread = threading.Thread(target=self._run, name=f"billing-run-{self.run_id}-heartbeat", daemon=True)
        self._thread.start()
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key()})
            finally:
                self._connection.close()
                self._connection = None

    def _key(self) -> int:
        return _lock_key(f"billing-run:{self.run_id}")

    def _beat(self) -> None:
        self._connection.execute(
            BillingRun.__table__.update()
            .where(BillingRun.id == self.run_id, BillingRun.status == "running")
            .values(heartbeat_at=utcnow())
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._beat()
            except Exception:  # a lost connection: the run goes stale, as it should look
                log.exception("heartbeat of billing run #%s failed", self.run_id)
                return


def execute(run_id: int, now: datetime | None = None) -> BillingRun:
    """Do a run's work (the job body; commits as it goes). A failure marks the run failed and raises.

    Does nothing when the run is not running, or when another live process is executing it.
    """
    run = db.session.get(BillingRun, run_id)
    if run is None or run.status != "running":
        return run
    db.session.commit()  # hold no snapshot or row while another process may own the run
    heartbeat = Heartbeat(run_id)
    if not heartbeat.acquire():
        log.warning("billing run #%s is being executed by another process; this job does nothing", run_id)
        return db.session.get(BillingRun, run_id)
    try:
        return _execute(run_id, now, heartbeat)
    finally:
        heartbeat.release()


def _execute(run_id: int, now: datetime | None, heartbeat: Heartbeat) -> BillingRun:
    run = db.session.get(BillingRun, run_id)
    if run is None or run.status != "running":  # finished or replaced while we waited for the lock
        return run
    runner = RUNNERS[run.kind]
    kept = {key: run.summary[key] for key in ("as_of", "resumed") if key in (run.summary or {})}
    progress = Progress(run_id)
    try:
        summary = runner(progress, now or utcnow())
    except Exception as error:
        db.session.rollback()
        run = db.session.get(BillingRun, run_id)
        run.status = "failed"
        run.error = f"{type(error).__name__}: {error}"[:2000]
        run.finished_at = utcnow()
        run.heartbeat_at = utcnow()
        db.session.commit()
        raise
    run = db.session.get(BillingRun, run_id)
    run.summary = {**summary, **kept}
    run.total = max(run.total, progress.done)
    run.done = progress.done
    run.status = "done"
    run.finished_at = run.heartbeat_at = utcnow()
    db.session.commit()
    return run


class Progress:
    """Counts a run's steps; writes done/total and the heartbeat at most every second (own commit)."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.total = 0
        self.done = 0
        self._written = 0.0

    def add_total(self, steps: int) -> None:
        self.total += steps
        self.write(force=True)

    def step(self, count: int = 1) -> None:
        self.done += count
        self.write()

    def write(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._written < 1:
            return
        db.session.execute(
            BillingRun.__table__.update()
            .where(BillingRun.id == self.run_id)
            .values(total=self.total, done=self.done, heartbeat_at=utcnow())
        )
        db.session.commit()
        self._written = time.monotonic()


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def advisory_lock(name: str) -> None:
    """A transaction-scoped advisory lock (released at commit or rollback)."""
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


# ---------------------------------------------------------------- closed periods


def _close_module():
    if importlib.util.find_spec("app.billing.processes.close") is None:
        return None
    return importlib.import_module("app.billing.processes.close")


def _last_billed_start(party_kind: str) -> date | None:
    return db.session.scalar(select(func.max(Invoice.period_start)).where(Invoice.party_kind == party_kind))


def _earliest_uninvoiced(party_kind: str) -> datetime | None:
    kinds = (TransactionKind.CHARGE,) if party_kind == AccountKind.CLIENT else WORKER_TRANSACTION_KINDS
    return db.session.scalar(
        select(func.min(LedgerEntry.occurred_at))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind == party_kind,
            LedgerTransaction.kind.in_(kinds),
            ~select(InvoiceItem.transaction_id).where(InvoiceItem.transaction_id == LedgerTransaction.id).exists(),
        )
    )


def _step_of(party_kind: str) -> Callable[[date], Period]:
    return week_of if party_kind == AccountKind.CLIENT else month_of


def cutoff(party_kind: str, period: Period) -> datetime:
    """When a period's run may start: Sunday (WEEKLY_RUN_AT) or the month's last day (MONTHLY_RUN_AT)."""
    return week_cutoff(period) if party_kind == AccountKind.CLIENT else month_cutoff(period)


def billing_window(party_kind: str, period: Period) -> tuple[datetime, datetime]:
    """What a period's invoice covers: from the previous period's cutoff to its own (anything
    earlier and not invoiced yet is taken too, counted late)."""
    previous = _step_of(party_kind)(period.start - timedelta(days=1))
    return cutoff(party_kind, previous), cutoff(party_kind, period)


def due_periods(party_kind: str, now: datetime) -> list[Period]:
    """Periods (weeks for clients, months for workers) after the last one billed whose cutoff has
    passed and whose days before the cutoff's day are closed by the daily close (the cutoff's own
    day, still running, has its billing events delivered by the run itself)."""
    step_of = _step_of(party_kind)
    last = _last_billed_start(party_kind)
    period = step_of(step_of(last).end) if last is not None else None
    close = _close_module()
    through = close.days_closed_through() if close is not None else None
    # The day of the first billing event or posting: needed only before anything is closed or billed.
    first_active = close.first_activity_day() if close is not None and (through is None or last is None) else None
    if last is None:
        earliest = _earliest_uninvoiced(party_kind)
        if earliest is not None:
            period = step_of(local_day(earliest))
            if earliest >= cutoff(party_kind, period):
                period = step_of(period.end)
        elif first_active is not None:  # billing events not posted yet (the cutoff's day is open)
            period = step_of(first_active)
        else:
            return []

    def days_before_closed(day: date) -> bool:
        if close is None:
            return True
        if through is None:  # nothing closed yet: fine only if nothing happened before that day
            return first_active is None or first_active >= day
        return through >= day - timedelta(days=1)

    periods = []
    while (moment := cutoff(party_kind, period)) <= now and days_before_closed(local_day(moment)):
        periods.append(period)
        period = step_of(period.end)
    return periods


# ---------------------------------------------------------------- creating invoices (set-based)

CLIENT_INVOICES = text(
    """
    WITH due AS (
        SELECT a.user_id, t.id AS transaction_id, t.order_id, e.amount_cents, e.occurred_at
        FROM ledger_entries e
        JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'client'
        JOIN ledger_transactions t ON t.id = e.transaction_id
        WHERE t.kind = 'charge' AND e.occurred_at < :ends_at
          AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.transaction_id = t.id)
          AND NOT EXISTS (SELECT 1 FROM billing_parked_parties p
                          WHERE p.party_kind = 'client' AND p.user_id = a.user_id AND p.resolved_at IS NULL)
          AND (CAST(:only_users AS integer[]) IS NULL OR a.user_id = ANY(CAST(:only_users AS integer[])))
    ),
    new_invoices AS (
        INSERT INTO invoices (party_kind, user_id, period_start, period_end, amount_cents, breakdown, status,
                              provider, attempts, last_error, created_at, run_id)
        SELECT 'client', user_id, :period_start, :period_end, SUM(amount_cents),
               jsonb_build_object('charges', SUM(amount_cents), 'items', COUNT(*),
                                  'orders', COUNT(DISTINCT order_id),
                                  'late', COUNT(*) FILTER (WHERE occurred_at < :starts_at)),
               CASE WHEN SUM(amount_cents) > 0 THEN 'issued' ELSE 'nothing_due' END,
               '', 0, '', :now, :run_id
        FROM due
        GROUP BY user_id
        ON CONFLICT (party_kind, user_id, period_start) DO NOTHING
        RETURNING id, user_id
    ),
    items AS (
        INSERT INTO invoice_items (invoice_id, transaction_id)
        SELECT n.id, d.transaction_id FROM due d JOIN new_invoices n ON n.user_id = d.user_id
        RETURNING invoice_id
    )
    SELECT id FROM new_invoices
    """
)

WORKER_INVOICES = text(
    """
    WITH due AS (
        SELECT a.user_id, t.id AS transaction_id, t.kind, t.order_id, e.amount_cents, e.occurred_at
        FROM ledger_entries e
        JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'worker'
        JOIN ledger_transactions t ON t.id = e.transaction_id
        WHERE t.kind IN ('earning', 'fine', 'credit') AND e.occurred_at < :ends_at
          AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.transaction_id = t.id)
    ),
    due_totals AS (
        SELECT user_id,
               -COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'earning'), 0) AS earnings,
               COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'fine'), 0) AS fines,
               -COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'credit'), 0) AS credits,
               COUNT(DISTINCT order_id) AS orders,
               COUNT(*) FILTER (WHERE occurred_at < :starts_at) AS late
        FROM due GROUP BY user_id
    ),
    invoiced AS (
        SELECT user_id, SUM(amount_cents) AS amount FROM invoices WHERE party_kind = 'worker' GROUP BY user_id
    ),
    covered AS (
        SELECT inv.user_id, SUM(e.amount_cents) AS amount
        FROM invoices inv
        JOIN invoice_items ii ON ii.invoice_id = inv.id
        JOIN ledger_entries e ON e.transaction_id = ii.transaction_id
        JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'worker' AND a.user_id = inv.user_id
        WHERE inv.party_kind = 'worker'
        GROUP BY inv.user_id
    ),
    carry AS (
        SELECT i.user_id, -COALESCE(c.amount, 0) - i.amount AS carried_in
        FROM invoiced i LEFT JOIN covered c ON c.user_id = i.user_id
    ),
    parties AS (
        SELECT COALESCE(d.user_id, c.user_id) AS user_id,
               COALESCE(d.earnings, 0) AS earnings, COALESCE(d.fines, 0) AS fines,
               COALESCE(d.credits, 0) AS credits, COALESCE(d.orders, 0) AS orders, COALESCE(d.late, 0) AS late,
               COALESCE(c.carried_in, 0) AS carried_in
        FROM due_totals d FULL JOIN carry c ON c.user_id = d.user_id
        WHERE (d.user_id IS NOT NULL OR c.carried_in <> 0)
          AND NOT EXISTS (SELECT 1 FROM billing_parked_parties p
                          WHERE p.party_kind = 'worker' AND p.user_id = COALESCE(d.user_id, c.user_id)
                            AND p.resolved_at IS NULL)
          AND (CAST(:only_users AS integer[]) IS NULL
               OR COALESCE(d.user_id, c.user_id) = ANY(CAST(:only_users AS integer[])))
    ),
    new_invoices AS (
        INSERT INTO invoices (party_kind, user_id, period_start, period_end, amount_cents, breakdown, status,
                              provider, attempts, last_error, created_at, run_id)
        SELECT 'worker', user_id, :period_start, :period_end,
               GREATEST(0, carried_in + earnings - fines + credits),
               jsonb_build_object('earnings', earnings, 'fines', fines, 'credits', credits,
                                  'carried_in', carried_in, 'net', carried_in + earnings - fines + credits,
                                  'carried_out', LEAST(0, carried_in + earnings - fines + credits),
                                  'orders', orders, 'late', late),
               CASE WHEN carried_in + earnings - fines + credits > 0 THEN 'issued' ELSE 'nothing_due' END,
               '', 0, '', :now, :run_id
        FROM parties
        ON CONFLICT (party_kind, user_id, period_start) DO NOTHING
        RETURNING id, user_id
    ),
    items AS (
        INSERT INTO invoice_items (invoice_id, transaction_id)
        SELECT n.id, d.transaction_id FROM due d JOIN new_invoices n ON n.user_id = d.user_id
        RETURNING invoice_id
    )
    SELECT id FROM new_invoices
    """
)


def create_invoices(
    party_kind: str, period: Period, now: datetime, run_id: int | None = None, only_users: list[int] | None = None
) -> list[int]:
    """One period's invoices for every party with something due (commits). Returns the new ids.

    Under the party kind's advisory lock: a period older than the last billed one is skipped (a
    concurrent run billed it and later ones already), and the statement itself never invoices a
    transaction twice or a party twice for a period. Parties with an open park are left out;
    `only_users` restricts the statement to these parties (billing formerly parked ones).
    """
    advisory_lock(f"billing-invoices:{party_kind}")
    last = _last_billed_start(party_kind)
    if last is not None and period.start < last:
        db.session.commit()
        return []
    statement = CLIENT_INVOICES if party_kind == AccountKind.CLIENT else WORKER_INVOICES
    starts_at, ends_at = billing_window(party_kind, period)
    params = {
        "ends_at": ends_at,
        "starts_at": starts_at,
        "period_start": period.start,
        "period_end": period.end,
        "now": now,
        "run_id": run_id,
        "only_users": only_users,
    }
    # Hash joins only: once most transactions are invoiced (any ledger after a few periods), the
    # planner estimates the NOT EXISTS over invoice_items at one row and nests every later join in
    # loops; on the 1M set that took 92 s (809M rows compared) instead of 10. The statement reads
    # each input once, so hash joins keep it linear in the data whatever the estimates.
    db.session.execute(text("SET LOCAL enable_nestloop = off"))
    ids = sorted(db.session.execute(statement, params).scalars())
    db.session.execute(text("RESET enable_nestloop"))
    if ids and party_kind == AccountKind.CLIENT:
        payments.notify_issued(ids)  # set-based, in invoice order, in this transaction
    db.session.commit()
    return ids


# ---------------------------------------------------------------- the runs


def _bill(party_kind: str, progress: Progress, now: datetime) -> dict:
    parked.resolve_delivered()  # parks whose event the event queue has posted since
    db.session.commit()
    periods = due_periods(party_kind, now)
    progress.add_total(len(periods))
    created = 0
    close = _close_module()
    for period in periods:
        if close is not None:  # the cutoff's day is not closed yet: post its events up to the cutoff
            close.deliver_before(cutoff(party_kind, period))
            db.session.commit()
        created += len(create_invoices(party_kind, period, now, progress.run_id))
        progress.step()
    created += len(bill_unparked(party_kind, now, progress.run_id))
    outcomes = _settle(payments.due_invoice_ids(party_kind, now, retries=False), progress, now)
    summary = {"periods": [period.start.isoformat() for period in periods], "invoices": created, **outcomes}
    still_parked = parked.open_count(party_kind)
    if still_parked:
        summary["parked"] = still_parked
    return summary


def bill_unparked(party_kind: str, now: datetime, run_id: int | None = None) -> list[int]:
    """Bill the parties whose parks were all resolved since (commits): on the invoice of the last
    period billed for their kind, with everything of theirs not invoiced up to its cutoff."""
    users = parked.to_bill(party_kind)
    if not users:
        return []
    last = _last_billed_start(party_kind)
    ids: list[int] = []
    if last is not None:
        ids = create_invoices(party_kind, _step_of(party_kind)(last), now, run_id, only_users=users)
    # Without an invoice for that period already (their own period not billed yet: the next run
    # bills them with everyone), they are billed as everyone else from now on.
    parked.mark_billed(party_kind, users, now)
    db.session.commit()
    return ids


def retry_parked(park_id: int, now: datetime | None = None) -> bool:
    """A manager's retry of a parked party (the job; commits): deliver its failing event now, and
    when it is posted, bill every party it had parked and settle their new invoices.

    Returns whether the event was posted; if not, the park keeps the new error.
    """
    from app.events.jobs import deliver

    park = db.session.get(ParkedParty, park_id)
    if park is None:
        return False
    if park.resolved_at is None:
        event = db.session.get(Event, park.event_id)
        aggregate = (event.aggregate_type, event.aggregate_id)
        # Due now: `deliver` would otherwise wait for the event's backoff and do nothing.
        db.session.execute(
            update(EventFailure)
            .where(
                EventFailure.consumer == parked.CONSUMER,
                EventFailure.event_id.in_(
                    select(Event.id).where(Event.aggregate_type == aggregate[0], Event.aggregate_id == aggregate[1])
                ),
            )
            .values(next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        deliver(parked.CONSUMER, *aggregate)
        parked.resolve_delivered()
        db.session.commit()
        park = db.session.get(ParkedParty, park_id)
        db.session.refresh(park)
        if park.resolved_at is None:
            failure = db.session.get(EventFailure, (parked.CONSUMER, park.event_id))
            if failure is not None:
                db.session.execute(
                    update(ParkedParty)
                    .where(ParkedParty.event_id == park.event_id, ParkedParty.resolved_at.is_(None))
                    .values(error=failure.last_error[:2000])
                    .execution_options(synchronize_session=False)
                )
            db.session.commit()
            return False
    moment = now or utcnow()
    invoice_ids: list[int] = []
    for party_kind in (AccountKind.CLIENT, AccountKind.WORKER):
        invoice_ids += bill_unparked(party_kind, moment)
    if invoice_ids:
        payments.settle_many(sorted(invoice_ids), moment)
    return True


def _settle(invoice_ids: list[int], progress: Progress, now: datetime) -> dict:
    progress.add_total(len(invoice_ids))
    return dict(payments.settle_many(invoice_ids, now, on_progress=progress.step))


def run_weekly_clients(progress: Progress, now: datetime) -> dict:
    """US-220: invoice every closed week not billed yet, then charge the issued invoices."""
    return _bill(AccountKind.CLIENT, progress, now)


def run_monthly_workers(progress: Progress, now: datetime) -> dict:
    """US-230: invoice every closed month not billed yet, then pay out the issued invoices."""
    return _bill(AccountKind.WORKER, progress, now)


def run_payment_retries(progress: Progress, now: datetime) -> dict:
    """Failed payments whose next attempt is due, and attempts left pending by a killed run."""
    return _settle(payments.due_invoice_ids(None, now, retries=True), progress, now)


def run_daily_close(progress: Progress, now: datetime) -> dict:
    close = _close_module()
    if close is None:
        return {"skipped": "the daily close is not installed"}
    progress.add_total(1)
    result = close.close_due_days(now)
    db.session.commit()
    progress.step()
    if isinstance(result, dict):
        return result
    if isinstance(result, list | tuple):
        return {"days": [str(day) for day in result]}
    return {"result": str(result)} if result is not None else {}


RUNNERS: dict[str, Callable[[Progress, datetime], dict]] = {
    DAILY_CLOSE: run_daily_close,
    WEEKLY_CLIENTS: run_weekly_clients,
    MONTHLY_WORKERS: run_monthly_workers,
    PAYMENT_RETRIES: run_payment_retries,
}


def has_work(kind: str, now: datetime) -> bool:
    """Whether a scheduled check should start a run (so idle checks leave no run rows)."""
    if kind in (WEEKLY_CLIENTS, MONTHLY_WORKERS):
        party_kind = AccountKind.CLIENT if kind == WEEKLY_CLIENTS else AccountKind.WORKER
        return bool(
            due_periods(party_kind, now)
            or payments.due_invoice_ids(party_kind.value, now, retries=False)
            or parked.resolvable(party_kind)
        )
    if kind == PAYMENT_RETRIES:
        return bool(payments.due_invoice_ids(None, now, retries=True))
    if kind == DAILY_CLOSE:
        close = _close_module()
        if close is None:
            return False
        through = close.days_closed_through()
        yesterday = local_day(now) - timedelta(days=1)
        if through is None:
            first = close.first_activity_day()
            return first is not None and first <= yesterday
        return through < yesterday
    return False
