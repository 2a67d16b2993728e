"""The billing consumer: ledger postings from the order events (US-030, US-031, US-240).

When an order ends (order.completed, order.cancelled, order.failed):

- the client is charged the order's full price: client account debited, revenue credited
  (key "order:<id>:charge"). An order that ended before matching has no price (price_cents
  null) and is charged nothing: no worker came and no price was ever fixed;
- a completed order earns its worker WORKER_SHARE_PERCENT of the price in integer cents,
  rounded half up (60% of 0.99 units is 59.4 cents -> 59; of 1.25 units 75 cents exactly):
  payouts debited, worker credited ("order:<id>:earning");
- a failed order with a worker fines that worker FAILED_ORDER_FINE_CENTS: worker debited,
  fines credited ("order:<id>:fine");
- a cancelled order earns the worker nothing.

Everything is read from the event's payload (what was true when the order ended) and dated by
its "at", which decides the day, week and month the money belongs to. An order ends once, so
its keys are unique per order: a replayed or duplicated event posts nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.billing.ledger import account_id
from app.billing.models import AccountKind, TransactionKind
from app.billing.processes.close import record_posting
from app.events import Consumer
from app.events.models import Event
from app.orders.services import KIT_NOT_ISSUED_REASON
from app.platform.money import format_money

billing = Consumer("billing")

OUTCOMES = {"order.completed": "completed", "order.cancelled": "cancelled", "order.failed": "failed"}


def worker_share_cents(price_cents: int, percent: int | None = None) -> int:
    """The worker's share of a price, in integer cents rounded half up."""
    if percent is None:
        percent = current_app.config["WORKER_SHARE_PERCENT"]
    return (price_cents * percent + 50) // 100


@billing.handles(*OUTCOMES)
def post_order_outcome(event: Event) -> None:
    payload = event.payload
    outcome = OUTCOMES[event.type]
    order_id = payload["order_id"]
    price = payload.get("price_cents")
    worker_id = payload.get("worker_id")
    occurred_at = datetime.fromisoformat(payload["at"]) if payload.get("at") else event.created_at
    label = f"Order #{order_id} ({payload.get('service') or 'service'})"

    if payload.get("reason") == KIT_NOT_ISSUED_REASON:
        return  # the company failed to issue the kit: neither the client nor the worker pays for it
    if price:  # null: ended before matching, nothing was priced; 0: nothing to charge
        record_posting(
            f"order:{order_id}:charge",
            TransactionKind.CHARGE,
            f"{label} {outcome}",
            occurred_at,
            [(account_id(AccountKind.CLIENT, payload["client_id"]), price), (account_id(AccountKind.REVENUE), -price)],
            order_id=order_id,
        )

    if worker_id is None:
        return
    if outcome == "completed" and price:
        percent = current_app.config["WORKER_SHARE_PERCENT"]
        share = worker_share_cents(price, percent)
        if share:
            record_posting(
                f"order:{order_id}:earning",
                TransactionKind.EARNING,
                f"{label} completed: {percent}% of {format_money(price)}",
                occurred_at,
                [(account_id(AccountKind.PAYOUTS), share), (account_id(AccountKind.WORKER, worker_id), -share)],
                order_id=order_id,
            )
    elif outcome == "failed":
        fine = current_app.config["FAILED_ORDER_FINE_CENTS"]
        if fine:
            record_posting(
                f"order:{order_id}:fine",
                TransactionKind.FINE,
                f"{label} failed: fine of {format_money(fine)}",
                occurred_at,
                [(account_id(AccountKind.WORKER, worker_id), fine), (account_id(AccountKind.FINES), -fine)],
                order_id=order_id,
            )
