"""Helpers shared by the supplies and order-mail tests: valid slots, orders in a given state,
and event delivery through real RQ queues (an in-process SimpleWorker in burst mode)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notifications.models import OutboxEmail
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order
from tests.support.factories import ClientFactory, SupplyFactory, WorkerFactory

DELIVER = "app.events.jobs.deliver"


def next_slot(days_ahead: int = 2, hour: int = 10) -> datetime:
    """A bookable slot (working hours 08:00-20:00 UTC, Monday to Saturday) a few days from now."""
    day = datetime.now(UTC).date() + timedelta(days=days_ahead)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def make_service(name: str = "Deep cleaning", consumables: str = "sponge\nsoap\nrubber gloves"):
    return service_types.save_service_type(None, name=name, skills="cleaning", consumables=consumables)


def requested_order(client, service, slot: datetime | None = None, description: str = "Clean the sofa") -> Order:
    return orders.request_order(
        client, service_type_id=service.id, description=description, slot_start=slot or next_slot()
    )


def matched_order(client, service, worker, slot: datetime | None = None, **kwargs) -> Order:
    order = requested_order(client, service, slot, **kwargs)
    orders.assign_worker(order, worker)
    return order


def run_jobs(app, *queues: str) -> None:
    """Work the queues until empty in this process; scheduled jobs that are due are moved first."""
    from rq import SimpleWorker

    from app.platform.queues import get_queue, redis_connection

    with app.app_context():
        worker = SimpleWorker([get_queue(name) for name in queues], connection=redis_connection())
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")


def deliver_through_rq(app, order_id: int, consumers=("notifications", "supplies")) -> None:
    """Deliver the order's pending events to some consumers through the events queue, then send mail.

    The deliveries enqueued after each commit are dropped first, so consumers outside the test
    (matching picking its own worker) don't act: the test drives the order through the services.
    """
    from app.platform.queues import enqueue, get_queue

    with app.app_context():
        get_queue("events").empty()
        for consumer in consumers:
            enqueue("events", DELIVER, consumer, "order", str(order_id))
    run_jobs(app, "events")
    run_jobs(app, "emails")


def outbox_rows(recipient: str | None = None) -> list[OutboxEmail]:
    query = select(OutboxEmail).order_by(OutboxEmail.recipient, OutboxEmail.sequence)
    if recipient is not None:
        query = query.where(OutboxEmail.recipient == recipient.lower())
    return list(db.session.scalars(query))


def templates_to(recipient: str) -> list[str]:
    """The templates of a recipient's mail, in their sequence order."""
    return [row.template for row in outbox_rows(recipient)]


# Fixtures shared by the supplies domain tests and the department's pages (their conftests re-export them).


@pytest.fixture
def service(db):
    return make_service()


@pytest.fixture
def client_user(db):
    return ClientFactory(name="Clara Client")


@pytest.fixture
def worker(db):
    return WorkerFactory(name="Whiskers")


@pytest.fixture
def supply_user(db):
    return SupplyFactory(name="Sam Supply")
