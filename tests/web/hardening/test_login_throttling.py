"""Login throttling that cannot lock real users out, nor vanish: forwarded addresses from trusted
proxies only, a per-account limit that the owner's own browser is exempt from, limits kept in
memory when Redis is down, and a budget of password checks answered before any hashing."""

from __future__ import annotations

import socket

import pytest

from app import create_app
from app.accounts import services as accounts
from app.config import TestConfig, sqlalchemy_url
from app.platform.budget import TokenBucket
from tests.support.factories import ManagerFactory
from tests.support.fixtures import TEST_PASSWORD, csrf_token, isolated_client
from tests.support.web import PROXY, config_values, login_attempt

attempt = login_attempt


def test_attackers_from_many_addresses_cannot_lock_the_owner_out(app, client, new_client, db):
    owner = ManagerFactory()
    with config_values(
        app,
        LOGIN_LIMIT_PER_ACCOUNT_ADDRESS="3 per 15 minutes",
        LOGIN_LIMIT_PER_ACCOUNT="4 per 15 minutes",
        LOGIN_LIMIT_PER_IP="100 per 15 minutes",
    ):
        assert attempt(client, owner.email, TEST_PASSWORD, ip="10.0.0.1").status_code == 303  # the owner's browser
        for number in range(4):  # an attacker spreads guesses over addresses
            assert attempt(new_client(), owner.email, "guess", ip=f"192.0.2.{number}").status_code == 422
        assert attempt(new_client(), owner.email, TEST_PASSWORD, ip="192.0.2.99").status_code == 429
        # The owner's own browser (a signed known-device cookie) still gets in.
        client.post("/logout", data={"csrf_token": csrf_token(client, "/manage/")})
        assert attempt(client, owner.email, TEST_PASSWORD, ip="10.0.0.7").status_code == 303


def test_a_forged_known_device_cookie_is_ignored(app, client, db):
    owner = ManagerFactory()
    with config_values(app, LOGIN_LIMIT_PER_ACCOUNT="2 per 15 minutes", LOGIN_LIMIT_PER_ACCOUNT_ADDRESS="50 per hour"):
        client.set_cookie("mcf_known", "forged")
        for number in range(2):
            attempt(client, owner.email, "guess", ip=f"192.0.2.{number}")
        assert attempt(client, owner.email, TEST_PASSWORD, ip="192.0.2.50").status_code == 429


def _app(database_url, redis_url, **overrides):
    return create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url), REDIS_URL=redis_url, **overrides
    )


def test_behind_a_trusted_proxy_each_client_has_its_own_address(db, database_url, redis_url):
    proxied = _app(database_url, redis_url, TRUSTED_PROXIES=1, LOGIN_LIMIT_PER_IP="3 per 15 minutes")
    owner = ManagerFactory()
    client = isolated_client(proxied)
    for _ in range(3):
        assert attempt(client, "nobody@example.com", "guess", ip=PROXY, forwarded="198.51.100.1").status_code == 422
    assert attempt(client, "x@example.com", "guess", ip=PROXY, forwarded="198.51.100.1").status_code == 429
    # Another user behind the same proxy is not refused.
    other = isolated_client(proxied)
    assert attempt(other, owner.email, TEST_PASSWORD, ip=PROXY, forwarded="198.51.100.2").status_code == 303


def test_without_trusted_proxies_a_forwarded_header_is_ignored(app, client, db):
    with config_values(app, LOGIN_LIMIT_PER_IP="2 per 15 minutes"):
        for number in range(2):
            attempt(client, "nobody@example.com", "guess", ip=PROXY, forwarded=f"198.51.100.{number}")
        assert attempt(client, "nobody@example.com", "guess", ip=PROXY, forwarded="198.51.100.9").status_code == 429


def test_with_redis_down_limits_go_on_in_memory(db, database_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = _app(database_url, f"redis://127.0.0.1:{port}/0", LOGIN_LIMIT_PER_ACCOUNT_ADDRESS="2 per 15 minutes")
    client = isolated_client(down)
    owner = ManagerFactory()
    for _ in range(2):
        assert attempt(client, owner.email, "guess").status_code == 422
    assert attempt(client, owner.email, TEST_PASSWORD).status_code == 429


def test_over_the_password_budget_attempts_are_refused_before_hashing(app, client, db, monkeypatch):
    owner = ManagerFactory()
    checks = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda *args: checks.append(1) or real(*args))
    frozen = TokenBucket(2, burst=2, clock=lambda: 0.0)  # no time passes: two checks, then none
    monkeypatch.setitem(app.extensions, "mcf_password_budget", frozen)
    answers = [attempt(client, owner.email, "guess", ip=f"192.0.2.{n}").status_code for n in range(4)]
    assert answers == [422, 422, 429, 429]
    assert len(checks) == 2, "refused attempts never reach the password hash"


def test_the_budget_refills_with_time():
    now = [0.0]
    bucket = TokenBucket(10, burst=2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take(), bucket.take()] == [True, True, False]
    now[0] += 0.1
    assert bucket.take() is True and bucket.take() is False


@pytest.mark.parametrize("size", [(5000, 4000), (4001, 4001)])
def test_images_over_the_pixel_cap_are_refused_without_decoding(app, size):
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from app.platform.uploads import save_photo
    from app.platform.validation import ValidationError

    encoded = io.BytesIO()
    Image.new("L", size).save(encoded, format="PNG")
    upload = FileStorage(io.BytesIO(encoded.getvalue()), filename="big.png")
    with app.app_context(), pytest.raises(ValidationError, match="too many pixels"):
        save_photo(upload, "tests")
