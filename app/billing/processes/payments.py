"""Paying invoices: client charges (US-220), worker payouts (US-230), retries and the US-304 emails.

One payment attempt is two commits around the provider call:

1. lock the invoice, write a `PaymentAttempt` (number n, key "invoice:<id>:attempt:<n>") and COMMIT;
2. call the provider with that key (no transaction of ours is waiting on it);
3. lock the invoice again and record the outcome: on success post the PAYMENT (client) or PAYOUT
   (worker) ledger transaction, keyed once per invoice, and mark the invoice paid; on failure mark
   it failed with its next attempt from PAYMENT_RETRY_HOURS. COMMIT, with the emails.

A process killed between 1 and 3 leaves the attempt pending: whoever settles the invoice next
repeats the SAME key, so the provider answers with its first outcome and nothing is charged twice.
Two processes settling one invoice at once do the same (the second finds the pending attempt), and
the outcome is recorded once (the attempt is no longer pending for the second).

At scale (`settle_many`) the three steps are batched and the calls concurrent: step 1 for a batch
of invoices is one transaction (all their keys committed before any of their calls), step 2 runs
on a bounded pool of threads (BILLING_CONCURRENCY), step 3 records a batch of answers in one
transaction with set-based ledger postings and emails. Invoices are always locked in id order.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Engine, exists, or_, select
from sqlalchemy.orm import selectinload

from app.accounts.models import ClientProfile, User
from app.billing import ledger
from app.billing.models import (
    AccountKind,
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    TransactionKind,
)
from app.billing.providers import PaymentDeclined, PaymentProvider, client_provider, get_provider, worker_provider
from app.extensions import db
from app.notifications.services import queue_emails
from app.platform.clock import utcnow
from app.platform.urls import external_url
from app.platform.validation import ValidationError

log = logging.getLogger(__name__)

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


def retry_delays() -> list[timedelta]:
    """After the n-th failed attempt the next one is due after the n-th delay; then no more."""
    raw = str(current_app.config.get("PAYMENT_RETRY_HOURS") or "")
    return [timedelta(hours=float(part)) for part in raw.replace(" ", "").split(",") if part]


def provider_for(invoice: Invoice) -> PaymentProvider:
    if invoice.party_kind == AccountKind.CLIENT:
        method = db.session.scalar(select(ClientProfile.payment_method).where(ClientProfile.user_id == invoice.user_id))
        return client_provider(method)
    return worker_provider()


def _pending_attempt():
    return exists().where(PaymentAttempt.invoice_id == Invoice.id, PaymentAttempt.status == PENDING)


def due_invoice_ids(party_kind: str | None, now: datetime, *, retries: bool = True) -> list[int]:
    """Invoices to settle now: issued ones, ones with an attempt left pending (a killed run), and,
    with `retries`, failed ones whose next attempt is due."""
    conditions = [Invoice.status == InvoiceStatus.ISSUED]
    if retries:
        conditions.append((Invoice.status == InvoiceStatus.FAILED) & (Invoice.next_attempt_at <= now))
    conditions.append(Invoice.status.in_((InvoiceStatus.ISSUED, InvoiceStatus.FAILED)) & _pending_attempt())
    query = select(Invoice.id).where(or_(*conditions)).order_by(Invoice.id)
    if party_kind is not None:
        query = query.where(Invoice.party_kind == party_kind)
    return list(db.session.scalars(query))


def _lock(invoice_id: int) -> Invoice | None:
    return db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    )


def _lock_many(invoice_ids) -> dict[int, Invoice]:
    """Lock invoices in id order (every locker takes them in the same order: no deadlock)."""
    return {
        invoice.id: invoice
        for invoice in db.session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(sorted(invoice_ids)))
            .order_by(Invoice.id)
            .with_for_update(of=Invoice)
            .options(selectinload(Invoice.user))
            .execution_options(populate_existing=True)
        )
    }


@dataclass(frozen=True)
class Call:
    """One provider call to make, for an attempt already committed (step 1)."""

    attempt_id: int
    invoice_id: int
    key: str
    provider: str
    operation: str
    user_id: int
    amount_cents: int
    description: str


@dataclass(frozen=True)
class Answer:
    """The provider's answer to a call (step 2); `crash` when the call itself raised."""

    call: Call
    reference: str = ""
    error: str | None = None
    crash: BaseException | None = None


def settle(invoice_id: int, now: datetime | None = None) -> str:
    """Try to pay one invoice (commits). Returns paid | failed | awaiting_manual | skipped."""
    outcomes = settle_many([invoice_id], now, concurrency=1)
    return next(iter(outcomes), "skipped")


def settle_many(
    invoice_ids: list[int],
    now: datetime | None = None,
    *,
    concurrency: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Pay these invoices (commits): steps 1 and 3 batched, step 2 on a bounded pool of threads.

    Batches of BILLING_BATCH_SIZE invoices are begun in one transaction each (their attempts, keys
    included, committed before any of their calls); the calls run on BILLING_CONCURRENCY threads,
    each in an app context (and database session) of its own; the answers are recorded in batches,
    one transaction each. A process killed anywhere leaves at most committed, pending attempts,
    which the next run repeats with the same keys. One thread (concurrency 1, or a session bound to
    one connection as in the rollback-per-test fixture) makes the calls one after the other.
    Returns the count of each outcome (paid | failed | awaiting_manual | skipped).
    """
    now = now or utcnow()
    config = current_app.config
    if concurrency is None:
        concurrency = int(config.get("BILLING_CONCURRENCY") or 1)
    batch = max(1, int(config.get("BILLING_BATCH_SIZE") or 200))
    step = on_progress or (lambda count: None)
    chunks = [invoice_ids[start : start + batch] for start in range(0, len(invoice_ids), batch)]
    outcomes: Counter[str] = Counter()
    if concurrency <= 1 or not isinstance(db.session.get_bind(), Engine):
        for chunk in chunks:
            calls, immediate = begin_attempts(chunk, now)
            outcomes.update(immediate)
            answers = [call_provider(call) for call in calls]
            outcomes.update(record_answers(answers, now))
            step(len(chunk))
            _raise_first_crash(answers)
        return outcomes
    app = current_app._get_current_object()
    window = max(2 * concurrency, batch)
    crashes: list[Answer] = []
    ready: list[Answer] = []
    in_flight: set = set()

    def collect(block: bool) -> None:
        nonlocal in_flight
        done, in_flight = wait(in_flight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        ready.extend(future.result() for future in done)

    def collect_within(seconds: float) -> None:
        nonlocal in_flight
        done, in_flight = wait(in_flight, timeout=seconds, return_when=FIRST_COMPLETED)
        ready.extend(future.result() for future in done)

    last_record = time.monotonic()

    def record_ready(force: bool = False) -> None:
        # A full batch, or whatever came back within the last second: at scale batches fill in well
        # under a second; with a slow provider the run's progress still moves every second.
        nonlocal ready, last_record
        if ready and (force or len(ready) >= batch or time.monotonic() - last_record >= 1.0):
            crashes.extend(answer for answer in ready if answer.crash is not None)
            outcomes.update(record_answers(ready, now))
            step(len(ready))
            ready = []
            last_record = time.monotonic()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="billing-provider") as pool:
        for chunk in chunks:
            while len(in_flight) >= window:
                collect(block=True)
                record_ready()
            calls, immediate = begin_attempts(chunk, now)
            outcomes.update(immediate)
            step(len(chunk) - len(calls))
            in_flight.update(pool.submit(_call_in_app, app, call) for call in calls)
            if in_flight:
                collect(block=False)
            record_ready()
        while in_flight:
            collect_within(1.0)
            record_ready(force=not in_flight)
        record_ready(force=True)
    _raise_first_crash(crashes)
    return outcomes


def _raise_first_crash(answers: list[Answer]) -> None:
    for answer in answers:
        if answer.crash is not None:
            raise answer.crash


def _call_in_app(app, call: Call) -> Answer:
    with app.app_context():
        return call_provider(call)


def call_provider(call: Call) -> Answer:
    """Step 2: the provider call, outside any transaction of ours. Never raises: a crash (network,
    bug) is returned, so the answers that did come back are still recorded; its attempt stays
    pending and the next run repeats its key."""
    try:
        provider = get_provider(call.provider)
        result = getattr(provider, call.operation)(
            key=call.key, user_id=call.user_id, amount_cents=call.amount_cents, description=call.description
        )
    except PaymentDeclined as declined:
        return Answer(call, reference=declined.reference, error=declined.message or "Declined.")
    except Exception as crash:  # recorded as nothing: the attempt stays pending
        log.exception("payment call %s failed", call.key)
        return Answer(call, crash=crash)
    return Answer(call, reference=result.reference)


def begin_attempts(invoice_ids: list[int], now: datetime) -> tuple[list[Call], Counter[str]]:
    """Step 1 for a batch, one transaction: lock the invoices, write their attempts (or take the
    pending ones to repeat), COMMIT. Returns the calls to make and the outcomes decided already."""
    outcomes: Counter[str] = Counter()
    invoices = _lock_many(invoice_ids)
    pending: dict[int, PaymentAttempt] = {}
    if invoices:
        for attempt in db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.invoice_id.in_(list(invoices)), PaymentAttempt.status == PENDING)
            .order_by(PaymentAttempt.number)
        ):
            pending[attempt.invoice_id] = attempt  # the latest pending one
    client_ids = [i.user_id for i in invoices.values() if i.party_kind == AccountKind.CLIENT]
    methods = (
        dict(
            db.session.execute(
                select(ClientProfile.user_id, ClientProfile.payment_method).where(ClientProfile.user_id.in_(client_ids))
            ).all()
        )
        if client_ids
        else {}
    )
    chosen: list[tuple[Invoice, PaymentAttempt]] = []
    for invoice_id in sorted(invoice_ids):
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.FAILED):
            outcomes["skipped"] += 1
            continue
        attempt = pending.get(invoice.id)
        if attempt is None:
            if invoice.status == InvoiceStatus.FAILED and (
                invoice.next_attempt_at is None or invoice.next_attempt_at > now
            ):
                outcomes["skipped"] += 1
                continue
            if invoice.party_kind == AccountKind.CLIENT:
                provider = client_provider(methods.get(invoice.user_id))
            else:
                provider = worker_provider()
            if invoice.amount_cents <= 0:
                invoice.status = InvoiceStatus.NOTHING_DUE
                invoice.next_attempt_at = None
                outcomes["skipped"] += 1
                continue
            if not provider.automatic:
                invoice.status = InvoiceStatus.AWAITING_MANUAL
                invoice.provider = provider.name
                invoice.next_attempt_at = None
                outcomes[InvoiceStatus.AWAITING_MANUAL.value] += 1
                continue
            number = invoice.attempts + 1
            attempt = PaymentAttempt(
                invoice_id=invoice.id,
                number=number,
                idempotency_key=f"invoice:{invoice.id}:attempt:{number}",
                provider=provider.name,
                status=PENDING,
            )
            invoice.attempts = number
            invoice.provider = provider.name
            db.session.add(attempt)
        chosen.append((invoice, attempt))
    db.session.flush()
    calls = [
        Call(
            attempt_id=attempt.id,
            invoice_id=invoice.id,
            key=attempt.idempotency_key,
            provider=attempt.provider,
            operation="charge" if invoice.party_kind == AccountKind.CLIENT else "payout",
            user_id=invoice.user_id,
            amount_cents=invoice.amount_cents,
            description=f"MCF invoice #{invoice.id}",
        )
        for invoice, attempt in chosen
    ]
    db.session.commit()
    return calls, outcomes


def record_answers(answers: list[Answer], now: datetime) -> Counter[str]:
    """Step 3 for a batch, one transaction: each outcome once (an attempt no longer pending was
    recorded by someone else), the payments posted set-based, the emails queued set-based. COMMIT."""
    outcomes: Counter[str] = Counter()
    answers = sorted((a for a in answers if a.crash is None), key=lambda a: a.call.invoice_id)
    if not answers:
        return outcomes
    invoices = _lock_many({answer.call.invoice_id for answer in answers})
    attempts = {
        attempt.id: attempt
        for attempt in db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.id.in_([answer.call.attempt_id for answer in answers]))
            .execution_options(populate_existing=True)
        )
    }
    delays = retry_delays()
    paid: list[Invoice] = []
    failed: list[tuple[Invoice, PaymentAttempt, str]] = []
    for answer in answers:
        attempt = attempts.get(answer.call.attempt_id)
        invoice = invoices.get(answer.call.invoice_id)
        if attempt is None or invoice is None or attempt.status != PENDING:
            outcomes["skipped"] += 1
            continue
        attempt.finished_at = now
        attempt.provider_reference = answer.reference or ""
        if answer.error is None:
            attempt.status = SUCCEEDED
            if invoice.status != InvoiceStatus.PAID:
                paid.append(invoice)
            outcomes["paid"] += 1
            continue
        attempt.status = FAILED
        attempt.error = answer.error
        if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.FAILED):
            outcomes["skipped"] += 1
            continue
        invoice.status = InvoiceStatus.FAILED
        invoice.last_error = answer.error
        invoice.next_attempt_at = now + delays[attempt.number - 1] if attempt.number <= len(delays) else None
        failed.append((invoice, attempt, answer.error))
        outcomes["failed"] += 1
    messages = _mark_paid_many(paid, now)
    for invoice, attempt, error in failed:
        if invoice.party_kind == AccountKind.CLIENT:  # workers hear only of a paid invoice (US-304)
            messages.append(
                _message(
                    invoice,
                    "payment_failed",
                    f"invoice:{invoice.id}:attempt:{attempt.number}:failed",
                    attempt=attempt.number,
                    error=error,
                    next_attempt_at=invoice.next_attempt_at,
                )
            )
    queue_emails(sorted(messages, key=lambda message: message[3]))
    db.session.commit()
    return outcomes


def _mark_paid_many(invoices: list[Invoice], now: datetime, created_by_id: int | None = None) -> list[tuple]:
    """Post each invoice's payment (client) or payout (worker) once, set-based; mark them paid.
    Returns their emails (the caller queues them)."""
    if not invoices:
        return []
    cash = ledger.account_id(AccountKind.CASH)
    parties = ledger.account_ids([(AccountKind(invoice.party_kind), invoice.user_id) for invoice in invoices])
    postings = []
    messages = []
    for invoice in invoices:
        amount = invoice.amount_cents
        party = parties[(invoice.party_kind, invoice.user_id)]
        if invoice.party_kind == AccountKind.CLIENT:
            postings.append(
                ledger.Posting(
                    f"payment:invoice:{invoice.id}",
                    TransactionKind.PAYMENT,
                    f"Payment of invoice #{invoice.id} ({period_label(invoice)})",
                    now,
                    [(cash, amount), (party, -amount)],
                    invoice_id=invoice.id,
                    created_by_id=created_by_id,
                )
            )
            template = "payment_succeeded"
        else:
            postings.append(
                ledger.Posting(
                    f"payout:invoice:{invoice.id}",
                    TransactionKind.PAYOUT,
                    f"Payout of invoice #{invoice.id} via Golden Hat ({period_label(invoice)})",
                    now,
                    [(party, amount), (cash, -amount)],
                    invoice_id=invoice.id,
                    created_by_id=created_by_id,
                )
            )
            template = "invoice_paid"
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now
        invoice.next_attempt_at = None
        invoice.last_error = ""
        messages.append(_message(invoice, template, f"invoice:{invoice.id}:paid"))
    ledger.post_many(postings)
    return messages


def mark_paid_manually(invoice: Invoice, manager, now: datetime | None = None) -> Invoice:
    """The manual adapter: a manager records that an invoice was paid (flushes; the view commits)."""
    now = now or utcnow()
    locked = _lock(invoice.id)
    if locked is None:
        raise ValidationError(invoice="There is no such invoice.")
    if locked.status == InvoiceStatus.PAID:
        raise ValidationError(invoice="This invoice is paid already.")
    if locked.status == InvoiceStatus.NOTHING_DUE:
        raise ValidationError(invoice="Nothing is due on this invoice.")
    pending = db.session.scalar(
        select(exists().where(PaymentAttempt.invoice_id == locked.id, PaymentAttempt.status == PENDING))
    )
    if pending:
        raise ValidationError(invoice="A payment attempt is in progress; try again when the run has finished.")
    locked.provider = "manual"
    queue_emails(_mark_paid_many([locked], now, created_by_id=getattr(manager, "id", None)))
    db.session.flush()
    return locked


# ---------------------------------------------------------------- US-304 emails


def period_label(invoice: Invoice) -> str:
    if invoice.party_kind == AccountKind.WORKER:
        return invoice.period_start.strftime("%B %Y")
    return _week_label(invoice.period_start, invoice.period_end)


def _week_label(start, end) -> str:
    return f"week {start:%d %b} - {end - timedelta(days=1):%d %b %Y}"


def _message(invoice: Invoice, template: str, key: str, **extra) -> tuple[str, str, dict, str]:
    """An email about an invoice, as `queue_emails` takes it (recipient, template, context, key)."""
    user = invoice.user
    link = external_url("clients.billing" if invoice.party_kind == AccountKind.CLIENT else "workers.earnings")
    context = {
        "name": user.name,
        "invoice_id": invoice.id,
        "period": period_label(invoice),
        "amount_cents": invoice.amount_cents,
        "breakdown": invoice.breakdown or {},
        "billing_link": link,
        **extra,
    }
    return user.email, template, context, key


def notify_issued(invoice_ids: list[int]) -> int:
    """US-304: the "invoice issued" email of each new client invoice (workers are emailed only when
    paid), queued set-based in invoice order; flushes only. Returns how many were queued.

    Reads plain rows, not ORM objects: a weekly run issues one per client (10,000 and more)."""
    link = external_url("clients.billing")
    messages = []
    for start in range(0, len(invoice_ids), 5000):
        chunk = invoice_ids[start : start + 5000]
        rows = db.session.execute(
            select(
                Invoice.id,
                Invoice.period_start,
                Invoice.period_end,
                Invoice.amount_cents,
                Invoice.breakdown,
                User.email,
                User.name,
            )
            .join(User, User.id == Invoice.user_id)
            .where(Invoice.id.in_(chunk), Invoice.party_kind == AccountKind.CLIENT)
            .order_by(Invoice.id)
        )
        for invoice_id, period_start, period_end, amount_cents, breakdown, email, name in rows:
            context = {
                "name": name,
                "invoice_id": invoice_id,
                "period": _week_label(period_start, period_end),
                "amount_cents": amount_cents,
                "breakdown": breakdown or {},
                "billing_link": link,
            }
            messages.append((email, "invoice_issued", context, f"invoice:{invoice_id}:issued"))
    return queue_emails(messages)
