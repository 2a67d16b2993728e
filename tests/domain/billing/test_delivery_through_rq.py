"""The billing consumer through real RQ queues and real commits: an order.completed delivered
twice posts once (US-030, US-230), and the daily close delivers what the queue has not yet."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import func, select

from app.billing.models import AccountKind, DailyTotal, LedgerEntry, LedgerTransaction, TransactionKind
from app.billing.processes import close
from app.events.jobs import DELIVER
from app.orders import service_types
from app.platform.queues import get_queue, redis_connection
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.ledger import end_order

ENDED_AT = datetime(2026, 10, 21, 9, 0, tzinfo=UTC)


def run_events() -> None:
    from rq import SimpleWorker

    SimpleWorker([get_queue("events")], connection=redis_connection()).work(
        burst=True, with_scheduler=False, logging_level="WARNING"
    )


def ended_order(session, outcome: str = "completed"):
    service = service_types.save_service_type(
        None, name=f"Cleaning {outcome}", skills="cleaning", base_price_cents=100_00
    )
    client, worker = ClientFactory(), WorkerFactory()
    order = end_order(outcome, ENDED_AT, client, worker, service)
    ids = order.id, client.id, worker.id
    session.commit()
    get_queue("events").empty()  # this test hands the events to billing itself
    return ids


def postings(session, order_id: int) -> dict[str, int]:
    rows = session.execute(
        select(LedgerTransaction.kind, func.count(LedgerEntry.id))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.order_id == order_id)
        .group_by(LedgerTransaction.kind)
    ).all()
    return dict(rows)


def test_us030_a_completed_order_delivered_twice_through_rq_posts_once(committed_db):
    session = committed_db.session
    order_id, _client_id, _worker_id = ended_order(session)

    queue = get_queue("events")
    queue.enqueue(DELIVER, "billing", "order", str(order_id))
    queue.enqueue(DELIVER, "billing", "order", str(order_id))
    run_events()
    queue.enqueue(DELIVER, "billing", "order", str(order_id))
    run_events()

    session.rollback()
    assert postings(session, order_id) == {TransactionKind.CHARGE: 2, TransactionKind.EARNING: 2}


def test_the_daily_close_posts_the_days_undelivered_events_across_real_sessions(committed_db):
    session = committed_db.session
    order_id, client_id, _worker_id = ended_order(session, "failed")
    assert postings(session, order_id) == {}

    with time_machine.travel(datetime(2026, 10, 22, 0, 30, tzinfo=UTC), tick=False):
        assert close.close_due_days() == [date(2026, 10, 21)]

    session.rollback()
    assert postings(session, order_id) == {TransactionKind.CHARGE: 2, TransactionKind.FINE: 2}
    from app.billing.ledger import account_id

    client_account = account_id(AccountKind.CLIENT, client_id)
    assert session.get(DailyTotal, (date(2026, 10, 21), client_account, "charge")).amount_cents == 100_00
    # A delivery that arrives afterwards finds nothing left to do.
    get_queue("events").enqueue(DELIVER, "billing", "order", str(order_id))
    run_events()
    session.rollback()
    assert postings(session, order_id) == {TransactionKind.CHARGE: 2, TransactionKind.FINE: 2}
