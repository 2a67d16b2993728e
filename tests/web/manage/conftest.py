"""Fixtures for the managers' orders and service types pages (US-021, US-050)."""

from __future__ import annotations

import pytest

from app.orders import service_types
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.matching import at_now, client_user, pipeline, service  # the matching pages' fixtures


@pytest.fixture
def manager(db):
    return ManagerFactory(name="Morgan Manager")


@pytest.fixture
def manager_client(client, manager):
    from tests.support.fixtures import login

    login(client, manager)
    return client


@pytest.fixture
def service_type(db):
    return service_types.save_service_type(
        None, name="House cleaning", skills="cleaning", consumables="Cloths\nSpray", duration_minutes=120
    )


@pytest.fixture
def people(db):
    """Two clients and two workers with recognisable names."""
    return {
        "tom": ClientFactory(name="Tom Tester", email="tom@example.com"),
        "luna": ClientFactory(name="Luna Laser", email="luna@example.com"),
        "whiskers": WorkerFactory(name="Whiskers", email="whiskers@example.com"),
        "mittens": WorkerFactory(name="Mittens", email="mittens@example.com"),
    }


__all__ = ["at_now", "client_user", "pipeline", "service"]
