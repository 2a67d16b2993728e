"""The client's phone through the JSON API (issue 12, point 9): create with it, read it, change it
with PATCH /api/v1/clients/<id>; a bad phone is a 422 on the field and changes nothing."""

from __future__ import annotations

import pytest

from app.accounts.services import create_api_token
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.web import user_by_email


@pytest.fixture
def auth(db):
    token = create_api_token(ManagerFactory(), "tests")
    db.session.flush()
    return {"Authorization": f"Bearer {token}"}


def test_us010_create_a_client_with_a_phone(client, db, auth):
    body = {"email": "ph@example.com", "name": "Phoebe", "phone": "020 7946-0958"}
    response = client.post("/api/v1/clients", json=body, headers=auth)
    assert response.status_code == 201
    assert (response.json["phone"], response.json["phone_tel"]) == ("020 7946-0958", "02079460958")
    listed = client.get("/api/v1/clients", headers=auth).json["items"]
    assert [item["phone"] for item in listed if item["email"] == "ph@example.com"] == ["020 7946-0958"]


def test_a_bad_phone_is_a_422_on_the_field_and_creates_nothing(client, db, auth):
    body = {"email": "ph@example.com", "name": "Phoebe", "phone": "0800 CATS"}
    response = client.post("/api/v1/clients", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json["errors"] == {"phone": ["Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958."]}
    assert user_by_email(db, "ph@example.com") is None


def test_patch_changes_the_phone_and_only_what_is_sent(client, db, auth):
    user = ClientFactory(name="Pat")
    response = client.patch(f"/api/v1/clients/{user.id}", json={"phone": "+1 (555) 010-9999"}, headers=auth)
    assert response.status_code == 200
    assert response.json["phone"] == "+1 (555) 010-9999" and response.json["phone_tel"] == "+15550109999"
    assert response.json["name"] == "Pat" and response.json["address"] == "1 Test Street"
    assert client.get(f"/api/v1/clients/{user.id}", headers=auth).json["phone_tel"] == "+15550109999"


def test_patch_refuses_bad_input_and_changes_nothing(client, db, auth):
    user = ClientFactory(name="Pat")
    url = f"/api/v1/clients/{user.id}"
    response = client.patch(url, json={"phone": "12", "name": "Renamed"}, headers=auth)
    assert response.status_code == 422 and list(response.json["errors"]) == ["phone"]
    response = client.patch(url, json={"email": "new@example.com"}, headers=auth)
    assert response.status_code == 422 and response.json["errors"] == {"email": ["Unknown field."]}
    assert client.patch(url, json=["phone"], headers=auth).status_code == 400
    db.session.expire_all()
    assert (user.name, user.email, user.client_profile.phone) == ("Pat", user.email, "")


def test_only_clients_and_only_with_a_token(client, db, auth):
    worker = WorkerFactory()
    phone = {"phone": "020 7946 0958"}
    assert client.patch(f"/api/v1/clients/{worker.id}", json=phone, headers=auth).status_code == 404
    assert client.get(f"/api/v1/clients/{worker.id}", headers=auth).status_code == 404
    user = ClientFactory()
    assert client.patch(f"/api/v1/clients/{user.id}", json=phone).status_code == 401
