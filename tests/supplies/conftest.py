import pytest

from tests.factories import ClientFactory, SupplyFactory, WorkerFactory
from tests.supplies.support import make_service


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
