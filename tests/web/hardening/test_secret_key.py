"""No fixed secret key: development makes a random one under instance/, production refuses to start."""

from __future__ import annotations

import stat

import pytest
from flask.sessions import SecureCookieSessionInterface

import app.config as config_module
from app import create_app
from app.accounts.services import open_session
from app.config import DevelopmentConfig, ProductionConfig, instance_secret_key, sqlalchemy_url
from tests.support.factories import ManagerFactory
from tests.support.fixtures import isolated_client


def test_development_key_is_random_kept_and_private(tmp_path):
    first = instance_secret_key(tmp_path / "a")
    assert len(first) >= 32
    assert instance_secret_key(tmp_path / "a") == first  # kept across restarts
    assert instance_secret_key(tmp_path / "b") != first  # not a constant
    mode = stat.S_IMODE((tmp_path / "a" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_no_fixed_key_in_the_config_classes(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert DevelopmentConfig.SECRET_KEY is None
    assert ProductionConfig.SECRET_KEY is None


def test_production_refuses_to_start_without_a_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)
    monkeypatch.setenv("SECRET_KEY", "dev-only-not-secret")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def _forged_cookie(app, key: str, user) -> str:
    """A session cookie as an attacker knowing `key` would sign it (with flask-login's identifier)."""
    from flask_login.utils import _create_identifier

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": "forger"}):
        session = {"_user_id": user.get_id(), "_fresh": True, "_id": _create_identifier(), "sid": user.sid}
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    serializer.secret_keys = [key.encode()]
    return serializer.dumps(session)


def test_forged_session_with_the_old_public_key_opens_nothing(
    committed_db, database_url, redis_url, monkeypatch, tmp_path
):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    manager = ManagerFactory()
    manager.sid = open_session(manager)  # a real server-side session: only the key is missing
    committed_db.session.commit()
    dev_app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url), REDIS_URL=redis_url)
    assert dev_app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()

    def manage_with(key):
        client = isolated_client(dev_app)
        client.set_cookie("session", _forged_cookie(dev_app, key, manager))
        return client.get("/manage/", headers={"User-Agent": "forger"})

    assert manage_with(dev_app.config["SECRET_KEY"]).status_code == 200  # the cookie is well formed
    refused = manage_with("dev-only-not-secret")
    assert refused.status_code in (302, 303)
    assert "/login" in refused.headers["Location"]
