"""Helpers for matching tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from sqlalchemy import delete

from app.extensions import db as database
from app.matching.models import MatchingStep
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from tests.support.factories import ClientFactory, WorkerFactory

# A Monday inside working hours (08:00-20:00 UTC, Monday to Saturday); the slot is the next day.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


SLOT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


DEFAULT_PIPELINE = [
    ("free_at_slot", "Free at that time", {"buffer_minutes": 30}),
    ("strengths", "Strengths for the service", {"weight": 2.0}),
    ("past_results", "Past results", {"weight": 3.0}),
    ("current_load", "Current load", {"weight": 1.0, "days": 7}),
    ("tie_break", "Seeded tie-break", {"weight": 0.01, "seed": 73}),
]


def configure(steps, session=None) -> list[MatchingStep]:
    """Replace the pipeline: (kind, name, params) or (kind, name, params, enabled), in order."""
    session = session or database.session
    session.execute(delete(MatchingStep))
    created = []
    for position, spec in enumerate(steps, start=1):
        kind, name, params, *rest = spec
        step = MatchingStep(position=position, kind=kind, name=name, params=params, enabled=rest[0] if rest else True)
        session.add(step)
        created.append(step)
    session.flush()
    return created


_names = count(1)


def make_worker(strengths=(), weaknesses=(), name=None, active=True):
    worker = WorkerFactory(name=name or f"Worker {next(_names)}", active=active)
    worker.worker_profile.strengths = list(strengths)
    worker.worker_profile.weaknesses = list(weaknesses)
    database.session.flush()
    return worker


def past_order(client, service, worker, status: str, slot_start: datetime, minutes: int = 120) -> Order:
    """A row in any status, written straight to the table (history, not the flow under test)."""
    order = Order(
        client=client,
        worker=worker,
        service_type=service,
        description="History",
        address="1 Test Street",
        slot_start=slot_start,
        slot_end=slot_start + timedelta(minutes=minutes),
        status=status,
    )
    database.session.add(order)
    database.session.flush()
    return order


def new_order(client, service, slot=SLOT) -> Order:
    return orders.request_order(client, service_type_id=service.id, description="Clean the sofa", slot_start=slot)


S = OrderStatus


# Fixtures of the matching tests, re-exported by the conftests that use them.
@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pipeline(db):
    return configure


@pytest.fixture
def service(db):
    return service_types.save_service_type(None, name="Sofa cleaning", skills="cleaning", consumables="sponge")


@pytest.fixture
def client_user(db):
    return ClientFactory()
