"""The matching consumer through a real RQ queue (US-060): order.requested -> matched, price
fixed, order.matched published and the MatchRun stored; a repeated delivery changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.events.jobs import DELIVER
from app.events.models import Event, EventFailure, HandledEvent
from app.matching.models import MatchRun
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from tests.support.factories import ClientFactory
from tests.support.matching import configure, make_worker


@pytest.fixture
def run_events(app):
    """An in-process RQ SimpleWorker in burst mode on the events queue."""
    from rq import SimpleWorker

    from app.platform.queues import get_queue, redis_connection

    def run() -> None:
        worker = SimpleWorker([get_queue("events")], connection=redis_connection())
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")

    return run


def next_working_slot() -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=2)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def test_us060_consumer_matches_a_requested_order_through_rq(committed_db, run_events):
    session = committed_db.session
    configure([("strengths", "Strengths", {"weight": 1.0}), ("tie_break", "Tie", {"weight": 0.01, "seed": 7})])
    service = service_types.save_service_type(None, name="Window cleaning", skills="cleaning")
    client = ClientFactory()
    make_worker()
    best = make_worker(strengths=["cleaning"])
    session.commit()
    order = orders.request_order(
        client, service_type_id=service.id, description="Windows", slot_start=next_working_slot()
    )
    order_id, best_id = order.id, best.id
    session.commit()  # enqueues the deliveries of order.requested

    run_events()

    session.rollback()
    order = session.get(Order, order_id)
    assert order.status == OrderStatus.MATCHED and order.worker_id == best_id
    assert order.price_cents == 100_00 and order.discount_percent == 0
    matched = session.scalars(
        select(Event).where(Event.type == "order.matched", Event.aggregate_id == str(order_id))
    ).one()
    assert matched.payload["worker_id"] == best_id and matched.payload["price_cents"] == 100_00
    run = session.scalars(select(MatchRun).where(MatchRun.order_id == order_id)).one()
    assert run.chosen_worker_id == best_id and [s["status"] for s in run.steps] == ["ran", "ran"]
    assert set(run.scores) == {str(w) for w in run.scores} and len(run.scores) == 2
    requested = session.scalars(
        select(Event.id).where(Event.type == "order.requested", Event.aggregate_id == str(order_id))
    ).one()
    assert session.get(HandledEvent, ("matching", requested)) is not None
    assert session.get(EventFailure, ("matching", requested)) is None

    # A duplicated delivery (and a second handler call) leaves the matched order alone.
    from app.matching.consumers import on_order_requested
    from app.platform.queues import get_queue

    get_queue("events").enqueue(DELIVER, "matching", "order", str(order_id))
    run_events()
    on_order_requested(session.get(Event, requested))
    session.commit()
    assert len(session.scalars(select(MatchRun).where(MatchRun.order_id == order_id)).all()) == 1


def test_us073_consumer_without_workers_records_the_run_and_does_not_fail(committed_db, run_events):
    session = committed_db.session
    configure([("strengths", "Strengths", {"weight": 1.0})])
    service = service_types.save_service_type(None, name="Ironing", skills="ironing")
    client = ClientFactory()
    session.commit()
    order = orders.request_order(
        client, service_type_id=service.id, description="Shirts", slot_start=next_working_slot()
    )
    order_id = order.id
    session.commit()

    run_events()

    session.rollback()
    assert session.get(Order, order_id).status == OrderStatus.REQUESTED
    run = session.scalars(select(MatchRun).where(MatchRun.order_id == order_id)).one()
    assert run.chosen_worker_id is None and "No active workers" in run.note
    assert session.scalars(select(EventFailure).where(EventFailure.consumer == "matching")).all() == []
