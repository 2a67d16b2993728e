"""Login throttling per account and per IP (flask-limiter on Redis, flushed before each test)."""

from __future__ import annotations

import pytest

from tests.support.factories import ManagerFactory, WorkerFactory
from tests.support.fixtures import TEST_PASSWORD, csrf_token
from tests.support.web import config_values

OFFICE, CAFE, HOME = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def attempt(client, email: str, password: str, ip: str = OFFICE):
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


@pytest.fixture
def small_limits(app):
    with config_values(
        app,
        LOGIN_LIMIT_PER_ACCOUNT_ADDRESS="3 per 15 minutes",
        LOGIN_LIMIT_PER_ACCOUNT="10 per 15 minutes",
        LOGIN_LIMIT_PER_IP="6 per 15 minutes",
    ):
        yield


def test_per_account_and_address_limit_blocks_that_pair_only(client, new_client, db, small_limits):
    victim, colleague = ManagerFactory(), WorkerFactory()
    for _ in range(3):
        assert attempt(client, victim.email, "guess").status_code == 422
    blocked = attempt(client, victim.email, TEST_PASSWORD)
    assert blocked.status_code == 429
    assert b"Too many attempts" in blocked.data
    # Whatever the spelling of the email, from that address the account waits.
    assert attempt(new_client(), victim.email.upper(), TEST_PASSWORD).status_code == 429
    # The owner elsewhere is not locked out; another account from the same address still logs in.
    assert attempt(new_client(), victim.email, TEST_PASSWORD, ip=CAFE).status_code == 303
    assert attempt(new_client(), colleague.email, TEST_PASSWORD).status_code == 303


def test_successful_logins_do_not_count(client, new_client, db, small_limits):
    manager = ManagerFactory()
    for _ in range(5):
        assert attempt(new_client(), manager.email, TEST_PASSWORD).status_code == 303
    assert attempt(client, manager.email, "guess").status_code == 422


def test_per_ip_limit_blocks_that_address_only(client, new_client, db, app):
    manager = ManagerFactory()
    with config_values(app, LOGIN_LIMIT_PER_ACCOUNT="100 per 15 minutes", LOGIN_LIMIT_PER_IP="4 per 15 minutes"):
        for number in range(4):  # a different account each time: only the address is common
            assert attempt(client, f"someone{number}@example.com", "guess", ip=OFFICE).status_code == 422
        assert attempt(client, manager.email, TEST_PASSWORD, ip=OFFICE).status_code == 429
        assert attempt(new_client(), manager.email, TEST_PASSWORD, ip=HOME).status_code == 303


def test_limits_apply_to_post_only(client, db, small_limits):
    manager = ManagerFactory()
    for _ in range(3):
        attempt(client, manager.email, "guess")
    assert client.get("/login", environ_base={"REMOTE_ADDR": OFFICE}).status_code == 200


def test_forgot_password_is_throttled_per_ip(client, db, app):
    with config_values(app, LOGIN_LIMIT_PER_IP="2 per 15 minutes"):
        answers = []
        for _ in range(3):
            token = csrf_token(client, "/forgot-password")
            response = client.post(
                "/forgot-password",
                data={"email": "someone@example.com", "csrf_token": token},
                environ_base={"REMOTE_ADDR": OFFICE},
            )
            answers.append(response.status_code)
    assert answers == [303, 303, 429]
