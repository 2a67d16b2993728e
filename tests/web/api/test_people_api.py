"""The JSON API for clients and workers (US-010): create, list, validation, duplicates, tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.accounts.models import ApiToken
from app.accounts.services import _token_digest, create_api_token, revoke_role
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.web import events_of, row_counts, user_by_email

INVALID = 422  # field errors; a body that is not a JSON object is 400

CLIENT = {"email": "Api.Client@Example.com", "name": "Api Client", "address": "2 Toy Lane", "payment_method": "card"}
WORKER = {
    "email": "api.worker@example.com",
    "name": "Api Worker",
    "age": 5,
    "breed": "Siamese",
    "coat_colour": "cream",
    "strengths": ["Cleaning", "cooking"],
    "weaknesses": ["baths"],
}


@pytest.fixture
def manager(db):
    return ManagerFactory()


@pytest.fixture
def auth(manager, db):
    token = create_api_token(manager, "tests")
    db.session.flush()
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- create


def test_us010_create_client(client, db, auth):
    response = client.post("/api/v1/clients", json=CLIENT, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "api.client@example.com"
    assert body["name"] == "Api Client"
    assert body["address"] == "2 Toy Lane"
    assert body["payment_method"] == "card"
    assert body["invitation_accepted"] is False
    assert isinstance(body["id"], int) and body["created_at"]
    user = user_by_email(db, "api.client@example.com")
    assert user.id == body["id"]
    assert user.roles == {"client"}
    assert user.client_profile.address == "2 Toy Lane"
    assert len(events_of(db, "account.client_created", user.id)) == 1
    assert len(events_of(db, "account.invitation_sent", user.id)) == 1


def test_us010_create_client_with_only_the_required_fields(client, db, auth):
    response = client.post("/api/v1/clients", json={"email": "min@example.com", "name": "Min"}, headers=auth)
    assert response.status_code == 201
    assert response.get_json()["payment_method"] == "card"


def test_us120_create_worker(client, db, auth):
    response = client.post("/api/v1/workers", json=WORKER, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert body["age"] == 5
    assert body["strengths"] == ["cleaning", "cooking"]
    assert body["weaknesses"] == ["baths"]
    user = user_by_email(db, WORKER["email"])
    assert user.roles == {"worker"}
    assert user.worker_profile.breed == "Siamese"
    assert len(events_of(db, "account.worker_created", user.id)) == 1
    assert len(events_of(db, "account.invitation_sent", user.id)) == 1


# ---------------------------------------------------------------- list


def test_list_clients_is_paginated(client, db, auth):
    people = ClientFactory.create_batch(3)
    WorkerFactory()  # not a client
    first = client.get("/api/v1/clients?per_page=2", headers=auth)
    assert first.status_code == 200
    body = first.get_json()
    assert (body["page"], body["per_page"], body["total"]) == (1, 2, 3)
    assert [item["email"] for item in body["items"]] == [people[2].email, people[1].email]
    second = client.get("/api/v1/clients?per_page=2&page=2", headers=auth).get_json()
    assert [item["email"] for item in second["items"]] == [people[0].email]
    assert client.get("/api/v1/clients?per_page=2&page=3", headers=auth).get_json()["items"] == []


def test_list_workers_shows_profiles(client, db, auth):
    worker = WorkerFactory()
    body = client.get("/api/v1/workers", headers=auth).get_json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["email"] == worker.email
    assert item["strengths"] == ["cleaning"] and item["age"] == 3


def test_page_size_is_clamped(client, db, auth):
    body = client.get("/api/v1/workers?per_page=100000&page=-4", headers=auth).get_json()
    assert (body["page"], body["per_page"]) == (1, 100)


# ---------------------------------------------------------------- bad input: 400, per-field messages, nothing created

LONG_NAME = "n" * 121

CLIENT_CASES = [
    ("email missing", {"name": "No Email"}, "email"),
    ("email empty", {"email": "  ", "name": "Blank"}, "email"),
    ("email invalid", {"email": "not-an-email", "name": "Bad"}, "email"),
    ("email not text", {"email": 42, "name": "Number"}, "email"),
    ("email too long", {"email": "a" * 250 + "@example.com", "name": "Long"}, "email"),
    ("name missing", {"email": "x1@example.com"}, "name"),
    ("name blank", {"email": "x2@example.com", "name": "   "}, "name"),
    ("name too long", {"email": "x3@example.com", "name": LONG_NAME}, "name"),
    ("name not text", {"email": "x4@example.com", "name": ["a"]}, "name"),
    ("address not text", {"email": "x5@example.com", "name": "A", "address": {"street": "x"}}, "address"),
    ("address too long", {"email": "x6@example.com", "name": "A", "address": "a" * 501}, "address"),
    ("payment unknown", {"email": "x7@example.com", "name": "A", "payment_method": "bitcoin"}, "payment_method"),
    ("payment a list", {"email": "x8@example.com", "name": "A", "payment_method": ["card"]}, "payment_method"),
    ("payment an object", {"email": "x9@example.com", "name": "A", "payment_method": {"a": 1}}, "payment_method"),
    ("unknown field", {"email": "x10@example.com", "name": "A", "nickname": "Tom"}, "nickname"),
]

WORKER_CASES = [
    ("email missing", {"name": "No Email"}, "email"),
    ("email invalid", {"email": "two@@example.com", "name": "Bad"}, "email"),
    ("name missing", {"email": "w1@example.com"}, "name"),
    ("name too long", {"email": "w2@example.com", "name": LONG_NAME}, "name"),
    ("age not an int", {"email": "w3@example.com", "name": "A", "age": "five"}, "age"),
    ("age a float", {"email": "w4@example.com", "name": "A", "age": 4.5}, "age"),
    ("age a bool", {"email": "w5@example.com", "name": "A", "age": True}, "age"),
    ("age too high", {"email": "w6@example.com", "name": "A", "age": 41}, "age"),
    ("age negative", {"email": "w7@example.com", "name": "A", "age": -1}, "age"),
    ("age a list", {"email": "w8@example.com", "name": "A", "age": [3]}, "age"),
    ("breed too long", {"email": "w9@example.com", "name": "A", "breed": "b" * 81}, "breed"),
    ("coat not text", {"email": "w10@example.com", "name": "A", "coat_colour": 7}, "coat_colour"),
    ("strengths not strings", {"email": "w11@example.com", "name": "A", "strengths": [1, 2]}, "strengths"),
    ("strengths an object", {"email": "w12@example.com", "name": "A", "strengths": {"a": "b"}}, "strengths"),
    ("strengths a number", {"email": "w13@example.com", "name": "A", "strengths": 3}, "strengths"),
    (
        "strengths too many",
        {"email": "w14@example.com", "name": "A", "strengths": [f"t{n}" for n in range(21)]},
        "strengths",
    ),
    ("weaknesses too long", {"email": "w15@example.com", "name": "A", "weaknesses": ["w" * 61]}, "weaknesses"),
    ("weaknesses mixed", {"email": "w16@example.com", "name": "A", "weaknesses": ["ok", None]}, "weaknesses"),
    ("unknown field", {"email": "w17@example.com", "name": "A", "payment_method": "card"}, "payment_method"),
]


def _assert_refused(client, db, url, body, auth, field):
    before = row_counts(db)
    response = client.post(url, json=body, headers=auth)
    assert response.status_code == INVALID, response.get_json()
    data = response.get_json()
    assert data["error"]
    assert set(data["errors"]) == {field}, data
    assert all(isinstance(message, str) and message for message in data["errors"][field])
    assert row_counts(db) == before


@pytest.mark.parametrize(("case", "body", "field"), CLIENT_CASES, ids=[case[0] for case in CLIENT_CASES])
def test_us010_client_bad_input_is_refused_per_field(client, db, auth, case, body, field):
    _assert_refused(client, db, "/api/v1/clients", body, auth, field)


@pytest.mark.parametrize(("case", "body", "field"), WORKER_CASES, ids=[case[0] for case in WORKER_CASES])
def test_us120_worker_bad_input_is_refused_per_field(client, db, auth, case, body, field):
    _assert_refused(client, db, "/api/v1/workers", body, auth, field)


def test_several_bad_fields_are_all_reported(client, db, auth):
    before = row_counts(db)
    response = client.post("/api/v1/workers", json={"email": "nope", "name": "", "age": 99}, headers=auth)
    assert response.status_code == INVALID
    assert set(response.get_json()["errors"]) == {"email", "name", "age"}
    assert row_counts(db) == before


@pytest.mark.parametrize("url", ["/api/v1/clients", "/api/v1/workers"])
@pytest.mark.parametrize(
    "payload",
    [
        {"json": [{"email": "a@example.com", "name": "A"}]},
        {"json": "a string"},
        {"json": 42},
        {"json": None},
        {"data": "{not json", "content_type": "application/json"},
        {"data": {"email": "a@example.com", "name": "A"}},  # a form, not JSON
        {},
    ],
    ids=["list", "string", "number", "null", "broken", "form", "empty"],
)
def test_body_must_be_a_json_object(client, db, auth, url, payload):
    before = row_counts(db)
    response = client.post(url, headers=auth, **payload)
    assert response.status_code == 400
    assert response.is_json
    assert "JSON object" in response.get_json()["error"]
    assert row_counts(db) == before


@pytest.mark.parametrize(("url", "body"), [("/api/v1/clients", CLIENT), ("/api/v1/workers", WORKER)])
def test_duplicate_email_in_another_case_is_409(client, db, auth, url, body):
    WorkerFactory(email=body["email"].lower())
    before = row_counts(db)
    response = client.post(url, json={**body, "email": body["email"].upper()}, headers=auth)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"email": ["A person with this email already exists."]}
    assert row_counts(db) == before


def test_creating_twice_creates_once(client, db, auth):
    assert client.post("/api/v1/clients", json=CLIENT, headers=auth).status_code == 201
    before = row_counts(db)
    assert client.post("/api/v1/clients", json=CLIENT, headers=auth).status_code == 409
    assert row_counts(db) == before


# ---------------------------------------------------------------- tokens


def _assert_401(response):
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mcf"'


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer mcf_not-a-real-token"},
        {"Authorization": "Basic bWFuYWdlcjpwYXNzd29yZA=="},
        {"Authorization": "Token mcf_x"},
    ],
    ids=["none", "empty", "scheme only", "scheme and space", "wrong token", "basic", "other scheme"],
)
def test_missing_or_wrong_token_is_401(client, db, headers):
    before = row_counts(db)
    _assert_401(client.get("/api/v1/clients", headers=headers))
    _assert_401(client.post("/api/v1/clients", json=CLIENT, headers=headers))
    _assert_401(client.post("/api/v1/workers", json=WORKER, headers=headers))
    assert row_counts(db) == before


def test_scheme_is_case_insensitive(client, db, auth):
    token = auth["Authorization"].split(" ", 1)[1]
    assert client.get("/api/v1/clients", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_token_is_401(client, db, manager, auth):
    assert client.get("/api/v1/clients", headers=auth).status_code == 200
    row = db.session.query(ApiToken).filter_by(user_id=manager.id).one()
    row.revoked_at = datetime.now(UTC)
    db.session.flush()
    before = row_counts(db)
    _assert_401(client.get("/api/v1/clients", headers=auth))
    _assert_401(client.post("/api/v1/clients", json=CLIENT, headers=auth))
    assert row_counts(db) == before


def test_token_of_a_former_manager_is_401(client, db, manager, auth):
    revoke_role(manager, "manager")
    db.session.flush()
    _assert_401(client.post("/api/v1/clients", json=CLIENT, headers=auth))


def test_token_of_a_non_manager_is_401(client, db):
    worker = WorkerFactory()
    token = "mcf_planted-token-of-a-worker"
    db.session.add(ApiToken(user=worker, name="planted", token_hash=_token_digest(token)))
    db.session.flush()
    before = row_counts(db)
    _assert_401(client.post("/api/v1/clients", json=CLIENT, headers={"Authorization": f"Bearer {token}"}))
    assert row_counts(db) == before


def test_token_of_an_inactive_manager_is_401(client, db, manager, auth):
    manager.active = False
    db.session.flush()
    _assert_401(client.get("/api/v1/workers", headers=auth))


def test_token_use_is_recorded(client, db, manager, auth):
    row = db.session.query(ApiToken).filter_by(user_id=manager.id).one()
    assert row.last_used_at is None
    assert client.get("/api/v1/workers", headers=auth).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_api_needs_no_csrf_token_and_sets_no_cookie(client, db, auth):
    response = client.post("/api/v1/clients", json=CLIENT, headers=auth)
    assert response.status_code == 201
    assert not any(value.startswith("session=") for value in response.headers.getlist("Set-Cookie"))


def test_session_login_is_not_a_token(client, db, manager):
    from tests.support.fixtures import login

    login(client, manager)
    _assert_401(client.post("/api/v1/clients", json=CLIENT))
