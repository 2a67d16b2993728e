"""Fixtures for the ledger tests (US-030, US-031, US-040, US-240, US-270): orders ended through
the real services at chosen moments (time-machine), and the ledger invariant after every test."""

from __future__ import annotations

import pytest

from app.billing import ledger
from app.orders import service_types
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory


@pytest.fixture(autouse=True)
def ledger_stays_balanced(request):
    """The ledger invariant, after every test of this folder: every transaction sums to zero."""
    mode = "committed_db" if "committed_db" in request.fixturenames else "db"
    database_ = request.getfixturevalue(mode)  # set up before, so torn down after, this check
    yield
    if mode == "committed_db":
        database_.session.rollback()
    assert ledger.unbalanced_transactions() == []


@pytest.fixture
def service(db):
    return service_types.save_service_type(None, name="House cleaning", skills="cleaning", base_price_cents=100_00)


@pytest.fixture
def client_user(db):
    return ClientFactory(name="Carla Client")


@pytest.fixture
def worker(db):
    return WorkerFactory(name="Wendy Worker")


@pytest.fixture
def manager(db):
    return ManagerFactory(name="Max Manager")
