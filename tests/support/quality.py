"""Shared set-up of the quality tests: ended orders (real ones, or facts as an event would carry
them), delivery to the quality consumer, and a valid review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine

from app.events.jobs import deliver
from app.orders import services as orders
from app.orders.models import OrderStatus
from app.quality import services as quality
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.orders import NOW, make_order, make_service, nth_slot

S = OrderStatus
_event_ids = count(1_000_000)


def deliver_to_quality(order_id: int) -> int:
    """Hand the order's pending events to the quality consumer, as the events queue would."""
    return deliver("quality", "order", str(order_id))


def ended_order(client, service, worker=None, status: S = S.FAILED, slot_index: int = 0, **values):
    """A real order walked to `status` and delivered to the quality consumer."""
    order = make_order(client, service, worker, status=status, slot=nth_slot(slot_index), **values)
    deliver_to_quality(order.id)
    return order


def no_show(client, service, worker, slot_index: int = 0):
    """US-132: a matched order whose worker never checked in, failed by the no-show rule."""
    order = make_order(client, service, worker, status=S.KIT_ISSUED, slot=nth_slot(slot_index))
    with time_machine.travel(order.slot_start + timedelta(hours=3), tick=False):
        assert orders.fail_no_show(order.id)
    deliver_to_quality(order.id)
    return order


def fake_payload(order_id: int, status: str, **values) -> dict:
    """The contract payload of an ended order (docs/events.md) without an order behind it."""
    payload = {
        "order_id": order_id,
        "status": status,
        "client_id": values.pop("client_id", 1),
        "worker_id": values.pop("worker_id", 2),
        "service_type_id": values.pop("service_type_id", 1),
        "service": "Cleaning",
        "price_cents": 10000,
        "base_price_cents": 10000,
        "discount_percent": 0,
        "slot_start": "2026-11-20T10:00:00+00:00",
        "slot_end": "2026-11-20T12:00:00+00:00",
        "rebooked_from_id": None,
        "at": values.pop("at", datetime(2026, 11, 20, 12, 0, tzinfo=UTC).isoformat()),
    }
    payload.update(values)
    return payload


def fake_end(order_id: int, status: str = "completed", **values):
    """Record an ended order as its event would, without an order row (the facts are the payload)."""
    return quality.record_order_end(f"order.{status}", fake_payload(order_id, status, **values), next(_event_ids))


def review_input(**changes) -> quality.ReviewInput:
    values = {
        "scores": {"punctuality": 2, "work_quality": 3, "communication": 4, "kit": 5, "satisfaction": 1},
        "fault": "worker",
        "root_cause": "Worker did not show up",
        "findings": "INTERNAL: the worker's phone was off; second time this month.",
        "client_message": "We are sorry the worker did not come; your next order is on us.",
        "worker_message": "You missed the appointment without notice; please call ahead next time.",
    }
    values.update(changes)
    return quality.ReviewInput(**values)


@pytest.fixture
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def quality_people(db):
    """(client, worker, manager, other manager, service)."""
    return ClientFactory(), WorkerFactory(), ManagerFactory(), ManagerFactory(), make_service()
