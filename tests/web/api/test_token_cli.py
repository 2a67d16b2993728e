"""API tokens: the service and `flask api-token create EMAIL`."""

from __future__ import annotations

import hashlib

import pytest

from app.accounts.models import ApiToken
from app.accounts.services import RoleNotAllowed, create_api_token, user_for_api_token
from tests.support.factories import ClientFactory, ManagerFactory


def test_create_api_token_stores_only_a_hash(db):
    manager = ManagerFactory()
    token = create_api_token(manager, "import job")
    assert token.startswith("mcf_") and len(token) > 40
    row = db.session.query(ApiToken).filter_by(user_id=manager.id).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, row.name)
    assert user_for_api_token(token) is manager


def test_tokens_are_for_managers_only(db):
    with pytest.raises(RoleNotAllowed):
        create_api_token(ClientFactory())
    assert db.session.query(ApiToken).count() == 0


def test_cli_creates_a_token_that_works(app, client, db):
    manager = ManagerFactory(email="boss@example.com")
    result = app.test_cli_runner().invoke(args=["api-token", "create", "BOSS@example.com", "--name", "ci"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("mcf_")
    assert db.session.query(ApiToken).filter_by(user_id=manager.id, name="ci").count() == 1
    response = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_cli_refuses_a_non_manager(app, db):
    worker = ClientFactory()
    result = app.test_cli_runner().invoke(args=["api-token", "create", worker.email])
    assert result.exit_code != 0
    assert "managers" in result.output
    assert db.session.query(ApiToken).count() == 0


def test_cli_refuses_an_unknown_email(app, db):
    result = app.test_cli_runner().invoke(args=["api-token", "create", "ghost@example.com"])
    assert result.exit_code != 0
    assert "No account" in result.output
