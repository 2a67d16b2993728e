"""Issue 11 point 8: a flood of refused sign-ins is answered before the application. After a 429,
the same address's next sign-in attempts get a static 429 at once (no session, template, Redis or
database), other addresses and other pages are not affected, and the gate sees the client's
address behind a trusted proxy."""

from __future__ import annotations

import time

from flask import request

from app import create_app
from app.config import TestConfig, sqlalchemy_url
from app.web.core.login_gate import LoginGate
from tests.support.factories import ManagerFactory
from tests.support.fixtures import TEST_PASSWORD, isolated_client
from tests.support.web import PROXY
from tests.support.web import login_attempt as attempt


def gated_app(database_url, redis_url, **overrides):
    settings = {"LOGIN_GATE_SECONDS": 30, "TRUSTED_PROXIES": 1, "LOGIN_LIMIT_PER_IP": "2 per 15 minutes"}
    return create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url),
        REDIS_URL=redis_url,
        **{**settings, **overrides},
    )


def count_app_requests(app) -> list[str]:
    """Record each request that reaches the Flask application behind the gate."""
    seen = []

    @app.before_request
    def record():
        seen.append(request.remote_addr)

    return seen


def test_after_a_429_the_address_is_answered_before_the_application(db, database_url, redis_url):
    app = gated_app(database_url, redis_url)
    reached = count_app_requests(app)
    owner = ManagerFactory()
    flooder = isolated_client(app)
    for _ in range(2):
        assert attempt(flooder, "nobody@example.com", "guess", ip=PROXY, forwarded="198.51.100.7").status_code == 422
    assert attempt(flooder, "nobody@example.com", "guess", ip=PROXY, forwarded="198.51.100.7").status_code == 429

    before = len(reached)
    gated = attempt(flooder, "nobody@example.com", "guess", ip=PROXY, forwarded="198.51.100.7")
    assert gated.status_code == 429
    assert b"Too many sign-in attempts" in gated.data and int(gated.headers["Retry-After"]) > 0
    # The attempt's GET of the form (for its CSRF token) reached the app; the POST did not.
    assert len(reached) == before + 1

    # Another client behind the same proxy signs in; the flooder's other pages still work.
    assert (
        attempt(isolated_client(app), owner.email, TEST_PASSWORD, ip=PROXY, forwarded="198.51.100.8").status_code == 303
    )
    assert (
        flooder.get(
            "/login", environ_base={"REMOTE_ADDR": PROXY}, headers={"X-Forwarded-For": "198.51.100.7"}
        ).status_code
        == 200
    )


def test_the_gate_forgets_an_address_after_its_seconds_and_stays_bounded():
    def application(environ, start_response):  # a real WSGI app that always refuses
        start_response("429 Too Many Requests", [("Content-Type", "text/plain")])
        return [b"refused by the limits"]

    gate = LoginGate(application, seconds=0.2)
    gate.remember("192.0.2.1")
    assert gate.refused("192.0.2.1") > 0 and gate.refused("192.0.2.2") == 0
    time.sleep(0.25)
    assert gate.refused("192.0.2.1") == 0

    for number in range(10_050):
        gate.remember(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}")
    assert len(gate._refused_until) == 10_000
    assert gate.refused("10.0.0.0") == 0, "the oldest addresses are forgotten first"


def test_a_refusal_by_the_shared_password_budget_does_not_hold_the_address(db, database_url, redis_url):
    """The budget of password checks is everyone's: an office behind one address, refused once
    because many people sign in at that moment, is not shut out for the gate's seconds."""
    app = gated_app(database_url, redis_url, PASSWORD_CHECKS_PER_SECOND=0.001, LOGIN_LIMIT_PER_IP="100 per minute")
    reached = count_app_requests(app)
    owner = ManagerFactory()
    office = "198.51.100.20"
    first = attempt(isolated_client(app), owner.email, TEST_PASSWORD, ip=PROXY, forwarded=office)
    assert first.status_code == 303  # the one token of the budget
    refused = attempt(isolated_client(app), owner.email, TEST_PASSWORD, ip=PROXY, forwarded=office)
    assert refused.status_code == 429 and b"Many people are signing in" in refused.data
    assert not any(name.lower().startswith("x-mcf-refusal") for name in refused.headers.keys())

    before = len(reached)
    again = attempt(isolated_client(app), owner.email, TEST_PASSWORD, ip=PROXY, forwarded=office)
    assert again.status_code == 429 and b"Many people are signing in" in again.data
    assert len(reached) == before + 2, "both the form and the sign-in reached the application"
