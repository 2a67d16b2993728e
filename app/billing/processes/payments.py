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
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, or_, select

from app.accounts.models import ClientProfile
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
from app.notifications.services import queue_email
from app.platform.clock import utcnow
from app.platform.urls import external_url
from app.platform.validation import ValidationError

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


def settle(invoice_id: int, now: datetime | None = None) -> str:
    """Try to pay one invoice (commits). Returns paid | failed | awaiting_manual | skipped."""
    now = now or utcnow()
    begun = _begin_attempt(invoice_id, now)
    if isinstance(begun, str):
        return begun
    attempt_id, key, provider_name, operation, user_id, amount, description = begun
    provider = get_provider(provider_name)
    try:
        result = getattr(provider, operation)(key=key, user_id=user_id, amount_cents=amount, description=description)
    except PaymentDeclined as declined:
        return _record(attempt_id, now, error=declined.message or "Declined.", reference=declined.reference)
    return _record(attempt_id, now, reference=result.reference)


def _begin_attempt(invoice_id: int, now: datetime):
    """Commit 1: the attempt (or the pending one to repeat); a string when there is nothing to call."""
    invoice = _lock(invoice_id)
    if invoice is None or invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.FAILED):
        db.session.commit()
        return "skipped"
    attempt = db.session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.invoice_id == invoice.id, PaymentAttempt.status == PENDING)
        .order_by(PaymentAttempt.number.desc())
        .limit(1)
    )
    if attempt is None:
        if invoice.status == InvoiceStatus.FAILED and (
            invoice.next_attempt_at is None or invoice.next_attempt_at > now
        ):
            db.session.commit()
            return "skipped"
        provider = provider_for(invoice)
        if invoice.amount_cents <= 0:
            invoice.status = InvoiceStatus.NOTHING_DUE
            invoice.next_attempt_at = None
            db.session.commit()
            return "skipped"
        if not provider.automatic:
            invoice.status = InvoiceStatus.AWAITING_MANUAL
            invoice.provider = provider.name
            invoice.next_attempt_at = None
            db.session.commit()
            return InvoiceStatus.AWAITING_MANUAL.value
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
        db.session.flush()
    operation = "charge" if invoice.party_kind == AccountKind.CLIENT else "payout"
    begun = (
        attempt.id,
        attempt.idempotency_key,
        attempt.provider,
        operation,
        invoice.user_id,
        invoice.amount_cents,
        f"MCF invoice #{invoice.id}",
    )
    db.session.commit()
    return begun


def _record(attempt_id: int, now: datetime, *, reference: str = "", error: str | None = None) -> str:
    """Commit 2: the outcome, once (a second recorder finds the attempt finished)."""
    attempt = db.session.get(PaymentAttempt, attempt_id)
    invoice = _lock(attempt.invoice_id)
    db.session.refresh(attempt)
    if attempt.status != PENDING:
        db.session.commit()
        return "skipped"
    attempt.finished_at = now
    attempt.provider_reference = reference or ""
    if error is None:
        attempt.status = SUCCEEDED
        if invoice.status != InvoiceStatus.PAID:
            _mark_paid(invoice, now)
        outcome = "paid"
    else:
        attempt.status = FAILED
        attempt.error = error
        outcome = "skipped"
        if invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.FAILED):
            delays = retry_delays()
            invoice.status = InvoiceStatus.FAILED
            invoice.last_error = error
            invoice.next_attempt_at = now + delays[attempt.number - 1] if attempt.number <= len(delays) else None
            if invoice.party_kind == AccountKind.CLIENT:  # workers hear only of a paid invoice (US-304)
                _email(
                    invoice,
                    "payment_failed",
                    f"invoice:{invoice.id}:attempt:{attempt.number}:failed",
                    attempt=attempt.number,
                    error=error,
                    next_attempt_at=invoice.next_attempt_at,
                )
            outcome = "failed"
    db.session.commit()
    return outcome


def _mark_paid(invoice: Invoice, now: datetime, created_by_id: int | None = None) -> None:
    """Post the payment (client) or payout (worker) once per invoice, mark it paid, email the party."""
    amount = invoice.amount_cents
    party = ledger.account_id(AccountKind(invoice.party_kind), invoice.user_id)
    cash = ledger.account_id(AccountKind.CASH)
    if invoice.party_kind == AccountKind.CLIENT:
        ledger.post(
            f"payment:invoice:{invoice.id}",
            TransactionKind.PAYMENT,
            f"Payment of invoice #{invoice.id} ({period_label(invoice)})",
            now,
            [(cash, amount), (party, -amount)],
            invoice_id=invoice.id,
            created_by_id=created_by_id,
        )
        template = "payment_succeeded"
    else:
        ledger.post(
            f"payout:invoice:{invoice.id}",
            TransactionKind.PAYOUT,
            f"Payout of invoice #{invoice.id} via Golden Hat ({period_label(invoice)})",
            now,
            [(party, amount), (cash, -amount)],
            invoice_id=invoice.id,
            created_by_id=created_by_id,
        )
        template = "invoice_paid"
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = now
    invoice.next_attempt_at = None
    invoice.last_error = ""
    _email(invoice, template, f"invoice:{invoice.id}:paid")


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
    _mark_paid(locked, now, created_by_id=getattr(manager, "id", None))
    db.session.flush()
    return locked


# ---------------------------------------------------------------- US-304 emails


def period_label(invoice: Invoice) -> str:
    if invoice.party_kind == AccountKind.WORKER:
        return invoice.period_start.strftime("%B %Y")
    last = invoice.period_end - timedelta(days=1)
    return f"week {invoice.period_start:%d %b} - {last:%d %b %Y}"


def _email(invoice: Invoice, template: str, key: str, **extra) -> None:
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
    queue_email(user.email, template, context, idempotency_key=key)


def notify_issued(invoice: Invoice) -> None:
    """US-304: a client's new invoice (workers are emailed only when paid)."""
    if invoice.party_kind == AccountKind.CLIENT:
        _email(invoice, "invoice_issued", f"invoice:{invoice.id}:issued")
