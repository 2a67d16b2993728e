"""The discount tier from the total the client has paid (US-040): payments in the ledger only,
and an order priced after the payment that crosses a tier gets the new discount."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.billing import ledger
from app.billing.models import AccountKind, TransactionKind
from app.billing.postings import post_order_outcome
from app.orders import services as orders
from app.orders.pricing import discount_percent, paid_total_cents
from tests.support.ledger import REQUESTED_AT, SLOT, end_order, last_event

PAID_AT = datetime(2026, 10, 19, 6, 0, tzinfo=UTC)


def pay(client, cents: int, key: str) -> None:
    """A paid invoice as the payment run records it: the client's account credited, cash debited."""
    ledger.post(
        key,
        TransactionKind.PAYMENT,
        "Invoice paid",
        PAID_AT,
        [(ledger.account_id(AccountKind.CASH), cents), (ledger.account_id(AccountKind.CLIENT, client.id), -cents)],
    )


def match_new_order(client, worker, service):
    with time_machine.travel(REQUESTED_AT, tick=False):
        order = orders.request_order(client, service_type_id=service.id, description="Again", slot_start=SLOT)
        orders.assign_worker(order, worker)
    return order


def test_us040_only_payments_count_as_paid_not_charges(client_user, worker, service):
    assert paid_total_cents(client_user.id) == 0
    order = end_order("completed", datetime(2026, 10, 20, 12, 0, tzinfo=UTC), client_user, worker, service)
    post_order_outcome(last_event(order))  # charged 100.00, not paid
    assert paid_total_cents(client_user.id) == 0
    pay(client_user, 100_00, "test:payment:1")
    assert paid_total_cents(client_user.id) == 100_00


def test_us040_an_order_priced_after_the_payment_crossing_a_tier_gets_the_new_discount(client_user, worker, service):
    pay(client_user, 10_000_00, "test:payment:1")  # exactly 10,000 units: not above the line yet
    before = match_new_order(client_user, worker, service)
    assert (before.discount_percent, before.price_cents) == (0, 100_00)

    pay(client_user, 1, "test:payment:2")  # 10,000.01 units paid: 5%
    after = match_new_order(client_user, worker, service)
    assert (after.discount_percent, after.base_price_cents, after.price_cents) == (5, 100_00, 95_00)
    assert before.price_cents == 100_00  # a price fixed before the payment stays as it was

    pay(client_user, 10_000_00, "test:payment:3")  # 20,000.01 units: 6%
    assert match_new_order(client_user, worker, service).price_cents == 94_00


def test_us040_someone_elses_payment_is_not_your_discount(client_user, worker, service, db):
    from tests.support.factories import ClientFactory

    other = ClientFactory()
    pay(other, 50_000_00, "test:payment:other")
    assert paid_total_cents(client_user.id) == 0
    assert match_new_order(client_user, worker, service).discount_percent == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=1, max_value=15_000_00), min_size=1, max_size=6))
def test_us040_paid_total_is_the_sum_of_the_payments_and_decides_the_tier(db, payments):
    from tests.support.factories import ClientFactory

    client = ClientFactory()
    for number, cents in enumerate(payments):
        pay(client, cents, f"test:payment:{client.id}:{number}")
    assert paid_total_cents(client.id) == sum(payments)
    assert discount_percent(paid_total_cents(client.id)) == discount_percent(sum(payments))
