"""Manager credits (US-270): any non-zero amount, a required reason, who did it recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.billing.credits import credit_worker
from app.billing.models import AccountKind, TransactionKind
from app.platform.validation import ValidationError
from tests.support.factories import ClientFactory
from tests.support.ledger import balance_of, entries_by_account, entry_count

NOW = datetime(2026, 10, 21, 15, 0, tzinfo=UTC)


def test_us270_a_manager_credits_a_worker_with_a_reason_and_is_recorded(worker, manager):
    transaction = credit_worker(worker, 25_50, "  Excellent reviews all month ", manager, now=NOW)

    assert transaction.kind == TransactionKind.CREDIT
    assert transaction.created_by_id == manager.id
    assert transaction.description == "Credit of 25.50 by Max Manager: Excellent reviews all month"
    assert transaction.occurred_at == NOW
    assert transaction.idempotency_key.startswith("credit:")
    assert entries_by_account(transaction) == {
        (AccountKind.PAYOUTS, None): 25_50,
        (AccountKind.WORKER, worker.id): -25_50,
    }
    assert balance_of(AccountKind.WORKER, worker.id) == -25_50  # we owe the worker 25.50 more


def test_us270_a_negative_amount_is_a_deduction(worker, manager):
    credit_worker(worker, 30_00, "Bonus", manager, now=NOW)
    deduction = credit_worker(worker, -10_00, "Bonus paid twice by mistake", manager, now=NOW)

    assert deduction.description == "Deduction of 10.00 by Max Manager: Bonus paid twice by mistake"
    assert entries_by_account(deduction) == {
        (AccountKind.PAYOUTS, None): -10_00,
        (AccountKind.WORKER, worker.id): 10_00,
    }
    assert balance_of(AccountKind.WORKER, worker.id) == -20_00


def test_us270_each_call_is_its_own_credit_but_a_form_token_credits_once(worker, manager):
    credit_worker(worker, 5_00, "One", manager, now=NOW)
    credit_worker(worker, 5_00, "One", manager, now=NOW)
    assert balance_of(AccountKind.WORKER, worker.id) == -10_00

    first = credit_worker(worker, 7_00, "Double click", manager, idempotency_key="form-token-1", now=NOW)
    again = credit_worker(worker, 7_00, "Double click", manager, idempotency_key="form-token-1", now=NOW)
    assert again.id == first.id
    assert balance_of(AccountKind.WORKER, worker.id) == -17_00
    assert entry_count() == 6


@pytest.mark.parametrize(
    ("amount", "reason", "fields"),
    [
        (0, "Nothing", {"amount"}),
        (10_00, "   ", {"reason"}),
        (None, "", {"amount", "reason"}),
        ("10", "Text is not cents", {"amount"}),
        (True, "A bool is not cents", {"amount"}),
        (10**12, "Typo", {"amount"}),
        (1_00, "x" * 1001, {"reason"}),
    ],
)
def test_us270_bad_input_is_refused_field_by_field(worker, manager, amount, reason, fields):
    with pytest.raises(ValidationError) as refused:
        credit_worker(worker, amount, reason, manager, now=NOW)
    assert set(refused.value.errors) == fields
    assert entry_count() == 0


def test_us270_only_workers_are_credited_and_only_by_managers(worker, manager, db):
    with pytest.raises(ValidationError) as refused:
        credit_worker(ClientFactory(), 1_00, "Not a worker", manager, now=NOW)
    assert set(refused.value.errors) == {"worker"}
    with pytest.raises(ValidationError) as refused:
        credit_worker(worker, 1_00, "Not a manager", worker, now=NOW)
    assert set(refused.value.errors) == {"manager"}
    assert entry_count() == 0
