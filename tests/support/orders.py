"""Shared set-up of the client and worker page tests: a frozen Monday, a service, orders in any status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from app.orders.states import move

S = OrderStatus
# A Monday, inside working hours (08:00-20:00 UTC, Monday to Saturday, 30-minute grid).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PATH = [S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS, S.COMPLETED]


def make_service(name: str = "Test cleaning", **values):
    values.setdefault("consumables", "sponge\nsoap")
    values.setdefault("skills", "cleaning")
    return service_types.save_service_type(None, name=name, **values)


def make_order(client_user, service, worker=None, status: S = S.REQUESTED, slot: datetime = SLOT, **values) -> Order:
    """An order walked through the legal path up to `status` (photos are fake paths unless given)."""
    values.setdefault("description", "Clean the sofa")
    order = orders.request_order(client_user, service_type_id=service.id, slot_start=slot, **values)
    if status == S.REQUESTED:
        return order
    if status in (S.CANCELLED, S.FAILED) and worker is None:
        move(order, status, reason="test")
        return order
    for step in PATH:
        if step == S.MATCHED:
            orders.assign_worker(order, worker)
        elif step == S.KIT_ISSUED:
            orders.issue_kit(order)
        elif step == S.IN_PROGRESS:
            orders.start(order, worker, "checkin/missing.jpg")
        elif step == S.COMPLETED:
            orders.complete(order, worker, "reports/missing.jpg")
        if step == status:
            return order
        if status in (S.CANCELLED, S.FAILED) and step == S.MATCHED:
            if status == S.FAILED:
                orders.fail(order, "test")
            else:
                move(order, status, reason="test")
            return order
    raise AssertionError(status)


def slot_day(days: int = 1) -> str:
    return (NOW + timedelta(days=days)).date().isoformat()


def nth_slot(i: int) -> datetime:
    """The i-th of distinct bookable slots after NOW (ten a day from 08:00, Sundays skipped)."""
    day = SLOT.replace(hour=8)
    for _ in range(i // 10):
        day += timedelta(days=2 if day.weekday() == 5 else 1)
    return day + timedelta(hours=i % 10)


@pytest.fixture(autouse=True)
def frozen_time():
    """The pages judge slots against the app clock: a fixed Monday morning (autouse where re-exported)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
