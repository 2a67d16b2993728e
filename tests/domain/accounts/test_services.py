"""Accounts services: unique emails, roles (US-280), argon2id passwords, links."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User, UserRole
from app.accounts.passwords import hash_password, verify_password
from app.accounts.services import (
    RoleNotAllowed,
    authenticate,
    create_client,
    create_staff,
    create_worker,
    find_user_by_email,
    grant_role,
    load_session_user,
    open_session,
    revoke_role,
    revoke_session,
    set_password,
)
from app.platform.validation import DuplicateError, ValidationError
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import TEST_PASSWORD
from tests.support.web import config_values, events_of, row_counts

# ---------------------------------------------------------------- emails


def test_email_is_stored_normalised_and_found_in_any_case(db):
    user = create_client("  Mixed.Case@Example.COM ", "Mixed")
    assert user.email == "mixed.case@example.com"
    assert find_user_by_email("MIXED.case@example.com") is user


@pytest.mark.parametrize("create", [create_client, create_worker])
def test_us010_duplicate_email_in_any_case_is_refused_and_leaves_nothing(db, create):
    ClientFactory(email="a@example.com")
    before = row_counts(db)
    with pytest.raises(DuplicateError) as raised:
        create("A@Example.com", "Second A")
    assert raised.value.errors == {"email": ["A person with this email already exists."]}
    assert row_counts(db) == before


def test_database_index_refuses_a_differently_cased_duplicate(db):
    ClientFactory(email="b@example.com")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(User(email="B@Example.com", name="Sneaky"))
        db.session.flush()


def test_database_index_refuses_raw_sql_duplicates_too(db):
    ClientFactory(email="c@example.com")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            text(
                "INSERT INTO users (email, name, active, session_version, created_at) VALUES (:e, 'x', true, 0, now())"
            ),
            {"e": "C@EXAMPLE.COM"},
        )


# ---------------------------------------------------------------- creating people


def test_us010_create_client_writes_profile_roles_and_events(db):
    user = create_client("tom@example.com", "Tom", "1 Lane", "bank_transfer")
    assert user.roles == {"client"}
    assert user.client_profile.payment_method == "bank_transfer"
    assert user.password_hash is None
    assert [event.type for event in events_of(db, "account.client_created", user.id)] == ["account.client_created"]
    [invitation] = events_of(db, "account.invitation_sent", user.id)
    assert invitation.payload == {"user_id": user.id, "email": user.email, "name": "Tom", "roles": ["client"]}


def test_us120_create_worker_keeps_traits(db):
    user = create_worker("w@example.com", "W", age="7", strengths="Cleaning, cooking,, cleaning", weaknesses=[])
    assert user.worker_profile.age == 7
    assert user.worker_profile.strengths == ["cleaning", "cooking"]
    assert user.worker_profile.weaknesses == []
    [created] = events_of(db, "account.worker_created", user.id)
    assert created.payload["strengths"] == ["cleaning", "cooking"]


def test_create_without_invitation_publishes_none(db):
    user = create_worker("quiet@example.com", "Quiet", invite=False)
    assert events_of(db, "account.invitation_sent", user.id) == []


def test_validation_errors_are_per_field(db):
    with pytest.raises(ValidationError) as raised:
        create_worker("bad", "", age=True, strengths=[1])
    assert set(raised.value.errors) == {"email", "name", "age", "strengths"}


@pytest.mark.parametrize("payment_method", [["card"], {"card": 1}, 3, "cash"])
def test_unknown_payment_method_is_a_validation_error(db, payment_method):
    with pytest.raises(ValidationError) as raised:
        create_client("p@example.com", "P", payment_method=payment_method)
    assert set(raised.value.errors) == {"payment_method"}


# ---------------------------------------------------------------- roles (US-280)


def test_us280_bettor_only_for_managers(db):
    worker = WorkerFactory()
    with pytest.raises(RoleNotAllowed):
        grant_role(worker, "bettor")
    assert "bettor" not in worker.roles
    manager = ManagerFactory()
    grant_role(manager, "bettor")
    assert manager.roles == {"manager", "bettor"}


def test_us280_staff_cannot_be_created_as_bettor_alone(db):
    before = row_counts(db)
    with pytest.raises(ValidationError):
        create_staff("bettor-only@example.com", "Bet", ["bettor"])
    assert row_counts(db) == before
    user = create_staff("boss@example.com", "Boss", ["manager", "bettor"], password=TEST_PASSWORD)
    assert user.roles == {"manager", "bettor"}


def test_us280_revoking_manager_drops_bettor(db):
    bettor = ManagerFactory()
    grant_role(bettor, "bettor")
    grant_role(bettor, "client")
    revoke_role(bettor, "manager")
    assert bettor.roles == {"client"}
    db.session.expire_all()
    assert {row.role for row in db.session.query(UserRole).filter_by(user_id=bettor.id)} == {"client"}


def test_unknown_role_is_refused(db):
    with pytest.raises(ValidationError):
        grant_role(ManagerFactory(), "overlord")


def test_granting_a_role_twice_keeps_one_row(db):
    manager = ManagerFactory()
    grant_role(manager, "supply")
    grant_role(manager, "supply")
    assert [row.role for row in manager.role_rows].count("supply") == 1


def test_database_refuses_an_unknown_role(db):
    manager = ManagerFactory()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(UserRole(user_id=manager.id, role="overlord"))
        db.session.flush()


# ---------------------------------------------------------------- passwords


def test_passwords_are_argon2id(db):
    manager = ManagerFactory()
    set_password(manager, "a long enough password")
    assert manager.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in manager.password_hash
    assert verify_password(manager.password_hash, "a long enough password")
    assert not verify_password(manager.password_hash, "a wrong password")


def test_short_password_is_refused(db):
    with pytest.raises(ValidationError) as raised:
        set_password(ManagerFactory(), "short")
    assert "password" in raised.value.errors


def test_authenticate(db):
    manager = ManagerFactory(email="auth@example.com")
    assert authenticate("AUTH@example.com", TEST_PASSWORD) is manager
    assert manager.last_login_at is not None
    assert authenticate("auth@example.com", "wrong password") is None
    assert authenticate("nobody@example.com", TEST_PASSWORD) is None
    manager.active = False
    assert authenticate("auth@example.com", TEST_PASSWORD) is None


def test_authenticate_rehashes_when_the_parameters_change(app, db):
    manager = ManagerFactory()
    old_hash = manager.password_hash
    assert "t=1" in old_hash
    with config_values(app, ARGON2_TIME_COST=2):
        assert authenticate(manager.email, TEST_PASSWORD) is manager
        assert manager.password_hash != old_hash
        assert manager.password_hash.startswith("$argon2id$")
        assert "t=2" in manager.password_hash
        new_hash = manager.password_hash
        assert authenticate(manager.email, TEST_PASSWORD) is manager
        assert manager.password_hash == new_hash  # up to date now: no second rehash
    assert verify_password(new_hash, TEST_PASSWORD)


def test_a_failed_login_does_not_rehash(app, db):
    manager = ManagerFactory()
    old_hash = manager.password_hash
    with config_values(app, ARGON2_TIME_COST=2):
        assert authenticate(manager.email, "wrong password") is None
    assert manager.password_hash == old_hash


def test_hash_uses_configured_cost(app, db):
    with config_values(app, ARGON2_MEMORY_KIB=2048):
        assert "m=2048" in hash_password("whatever password")


# ---------------------------------------------------------------- sessions


def test_session_id_carries_the_version(db):
    manager = ManagerFactory()
    token = open_session(manager)
    old_id = manager.get_id()
    assert load_session_user(old_id, token) is manager
    set_password(manager, "another long password")
    assert load_session_user(old_id, token) is None
    assert load_session_user(manager.get_id(), token) is manager


def test_a_revoked_or_unknown_session_loads_nobody(db):
    manager = ManagerFactory()
    token = open_session(manager)
    assert load_session_user(manager.get_id(), None) is None
    assert load_session_user(manager.get_id(), "made-up") is None
    assert load_session_user(ManagerFactory().get_id(), token) is None, "a session belongs to one person"
    revoke_session(token)
    assert load_session_user(manager.get_id(), token) is None


@pytest.mark.parametrize("session_id", ["", "x", "1", "1:2:3", "a:b", "999999999:0"])
def test_malformed_session_ids_load_nobody(db, session_id):
    assert load_session_user(session_id) is None
