import pytest
import time_machine
from sqlalchemy import text

from app.billing.ledger import unbalanced_transactions
from tests.support.billing_pages import NOW
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import login


@pytest.fixture(autouse=True)
def frozen_time():
    """The pages read "this week" and "this month" from the app clock: a fixed Wednesday."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def ledger_invariant(db):
    """After every test that touches money: every transaction balances (checked at COMMIT too)."""
    yield
    db.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert unbalanced_transactions() == []


@pytest.fixture
def people(db):
    return {
        "client": ClientFactory(),
        "other_client": ClientFactory(),
        "worker": WorkerFactory(),
        "other_worker": WorkerFactory(),
        "manager": ManagerFactory(name="Mina Manager"),
    }


@pytest.fixture
def as_user(new_client):
    """A test client logged in as `user`."""

    def log_in(user):
        browser = new_client()
        login(browser, user)
        return browser

    return log_in
