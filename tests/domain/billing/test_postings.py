"""Postings from the order events (US-030, US-031, US-240): who is charged, earns or is fined,
once per order however often the event is handed to the billing consumer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.billing.models import AccountKind, TransactionKind
from app.billing.postings import post_order_outcome, worker_share_cents
from app.orders import service_types
from tests.support.ledger import (
    balance_of,
    end_order,
    entries_by_account,
    entry_count,
    last_event,
    transactions_of,
)

ENDED_AT = datetime(2026, 10, 20, 12, 30, tzinfo=UTC)
C, W = AccountKind.CLIENT, AccountKind.WORKER


def handle(order):
    event = last_event(order)
    post_order_outcome(event)
    return event


def test_us030_us230_completed_order_charges_the_client_and_earns_the_worker_60_percent(client_user, worker, service):
    order = end_order("completed", ENDED_AT, client_user, worker, service)
    handle(order)

    txns = transactions_of(order)
    assert set(txns) == {TransactionKind.CHARGE, TransactionKind.EARNING}
    charge, earning = txns[TransactionKind.CHARGE], txns[TransactionKind.EARNING]
    assert entries_by_account(charge) == {(C, client_user.id): 100_00, (AccountKind.REVENUE, None): -100_00}
    assert entries_by_account(earning) == {(AccountKind.PAYOUTS, None): 60_00, (W, worker.id): -60_00}
    assert charge.idempotency_key == f"order:{order.id}:charge"
    assert earning.idempotency_key == f"order:{order.id}:earning"
    assert charge.description == f"Order #{order.id} (House cleaning) completed"
    assert earning.description == f"Order #{order.id} (House cleaning) completed: 60% of 100.00"
    assert charge.occurred_at == ENDED_AT and earning.occurred_at == ENDED_AT
    assert all(entry.occurred_at == ENDED_AT for entry in charge.entries + earning.entries)
    assert balance_of(C, client_user.id) == 100_00  # the client owes 100.00
    assert balance_of(W, worker.id) == -60_00  # we owe the worker 60.00


def test_us240_cancelled_order_charges_the_client_in_full_and_earns_the_worker_nothing(client_user, worker, service):
    order = end_order("cancelled", ENDED_AT, client_user, worker, service)
    handle(order)

    txns = transactions_of(order)
    assert set(txns) == {TransactionKind.CHARGE}
    assert txns[TransactionKind.CHARGE].description == f"Order #{order.id} (House cleaning) cancelled"
    assert balance_of(C, client_user.id) == 100_00
    assert balance_of(W, worker.id) == 0


def test_us031_us240_failed_order_charges_the_client_and_fines_the_worker_40_units(client_user, worker, service):
    order = end_order("failed", ENDED_AT, client_user, worker, service)
    handle(order)

    txns = transactions_of(order)
    assert set(txns) == {TransactionKind.CHARGE, TransactionKind.FINE}
    fine = txns[TransactionKind.FINE]
    assert entries_by_account(fine) == {(W, worker.id): 40_00, (AccountKind.FINES, None): -40_00}
    assert fine.idempotency_key == f"order:{order.id}:fine"
    assert fine.description == f"Order #{order.id} (House cleaning) failed: fine of 40.00"
    assert balance_of(C, client_user.id) == 100_00
    assert balance_of(W, worker.id) == 40_00  # the worker owes us the fine


@pytest.mark.parametrize("outcome", ["cancelled", "failed"])
def test_us031_an_order_ended_before_matching_has_no_price_and_posts_nothing(outcome, client_user, service):
    order = end_order(outcome, ENDED_AT, client_user, None, service)
    event = handle(order)

    assert event.payload["price_cents"] is None and event.payload["worker_id"] is None
    assert transactions_of(order) == {}
    assert entry_count() == 0


@pytest.mark.parametrize("outcome", ["completed", "cancelled", "failed"])
def test_the_same_event_handled_twice_posts_nothing_twice(outcome, client_user, worker, service):
    order = end_order(outcome, ENDED_AT, client_user, worker, service)
    handle(order)
    before = entry_count()
    handle(order)
    handle(order)

    assert entry_count() == before == 2 * len(transactions_of(order))
    assert balance_of(C, client_user.id) == 100_00


def test_us230_worker_share_is_integer_cents_rounded_half_up():
    assert worker_share_cents(100_00, 60) == 60_00
    assert worker_share_cents(99, 60) == 59  # 59.4
    assert worker_share_cents(1, 60) == 1  # 0.6
    assert worker_share_cents(101, 50) == 51  # 50.5: half up
    assert worker_share_cents(103, 50) == 52  # 51.5: half up, not to even


def test_us050_the_discounted_price_is_what_is_charged_and_shared(client_user, worker, db):
    service = service_types.save_service_type(None, name="Odd job", skills="", base_price_cents=123_41)
    order = end_order("completed", ENDED_AT, client_user, worker, service)
    handle(order)

    txns = transactions_of(order)
    assert entries_by_account(txns[TransactionKind.CHARGE])[(C, client_user.id)] == 123_41
    assert entries_by_account(txns[TransactionKind.EARNING])[(W, worker.id)] == -74_05  # 7404.6 -> 7405


def test_us240_fine_and_share_come_from_the_settings(app, client_user, worker, service, monkeypatch):
    monkeypatch.setitem(app.config, "WORKER_SHARE_PERCENT", 70)
    monkeypatch.setitem(app.config, "FAILED_ORDER_FINE_CENTS", 25_00)
    completed = end_order("completed", ENDED_AT, client_user, worker, service)
    failed = end_order("failed", ENDED_AT, client_user, worker, service)
    handle(completed)
    handle(failed)

    assert balance_of(W, worker.id) == -70_00 + 25_00
