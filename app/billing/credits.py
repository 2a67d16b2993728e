"""Manager credits to workers (US-270): any amount, a required reason, who did it recorded.

A positive amount is a bonus: payouts debited, the worker credited (what we owe them grows). A
negative amount is a deduction, posted the same way with the signs turned (what we owe them
shrinks); it is still a "credit" transaction, so the worker's month shows credits net of
deductions. Zero is refused. The transaction carries `created_by_id` and a description naming
the manager and the reason, and is dated now, so it belongs to the current day and month.

Each call is its own transaction (a uuid key), unless the caller passes an idempotency key: the
credit form passes its form token, so a double submit credits once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from app.accounts.models import User
from app.billing.ledger import account_id
from app.billing.models import AccountKind, LedgerTransaction, TransactionKind
from app.billing.processes.close import record_posting
from app.platform.clock import utcnow
from app.platform.money import format_money
from app.platform.validation import FieldErrors, ValidationError

MAX_REASON_LENGTH = 1000
# Far beyond any real credit; keeps a typo (or a pasted number) from overflowing the sums.
MAX_CREDIT_CENTS = 10_000_000 * 100


def credit_worker(
    worker: User,
    amount_cents: int,
    reason: str,
    manager: User,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LedgerTransaction:
    """Credit (or, with a negative amount, deduct from) a worker; flushes only."""
    errors = FieldErrors()
    if worker is None or not worker.has_role("worker"):
        errors.add("worker", "Choose a worker.")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        errors.add("amount", "Enter an amount.")
    elif amount_cents == 0:
        errors.add("amount", "The amount cannot be zero.")
    elif abs(amount_cents) > MAX_CREDIT_CENTS:
        errors.add("amount", f"At most {format_money(MAX_CREDIT_CENTS)} either way.")
    reason = (reason or "").strip()
    if not reason:
        errors.add("reason", "Say why.")
    elif len(reason) > MAX_REASON_LENGTH:
        errors.add("reason", f"At most {MAX_REASON_LENGTH:,} characters.")
    errors.raise_if_any()
    if manager is None or not manager.has_role("manager"):
        raise ValidationError(manager="Only a manager can credit a worker.")

    what = "Credit" if amount_cents > 0 else "Deduction"
    key = f"credit:{idempotency_key or uuid.uuid4().hex}"
    transaction, _is_new = record_posting(
        key,
        TransactionKind.CREDIT,
        f"{what} of {format_money(abs(amount_cents))} by {manager.name}: {reason}",
        now or utcnow(),
        [
            (account_id(AccountKind.PAYOUTS), amount_cents),
            (account_id(AccountKind.WORKER, worker.id), -amount_cents),
        ],
        created_by_id=manager.id,
    )
    if transaction.kind != TransactionKind.CREDIT:
        raise ValueError(f"idempotency key {key!r} belongs to a {transaction.kind} transaction")
    return transaction
