"""Managers create clients and workers one by one through forms (US-010, US-120)."""

from __future__ import annotations

import pytest

from app.extensions import db as database
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.web import count_statements, events_of, field_errors, row_counts, user_by_email

WORKER_FORM = {
    "email": "New.Worker@Example.com",
    "name": "Whiskers",
    "age": "4",
    "breed": "Maine Coon",
    "coat_colour": "ginger",
    "strengths": "cleaning, Cooking, cleaning",
    "weaknesses": "baths",
}
CLIENT_FORM = {
    "email": "new.client@example.com",
    "name": "Tester Tom",
    "address": "1 Toy Lane",
    "payment_method": "bank_transfer",
}


@pytest.fixture
def manager_client(client, db):
    login(client, ManagerFactory())
    return client


def submit(client, url: str, data: dict, **headers):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, url)}, headers=headers)


def test_us120_manager_creates_a_worker(manager_client, db):
    response = submit(manager_client, "/manage/workers", WORKER_FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/workers"
    user = user_by_email(db, "new.worker@example.com")
    assert user is not None and user.email == "new.worker@example.com"
    assert user.roles == {"worker"}
    assert user.name == "Whiskers"
    assert user.password_hash is None  # they set it through the invitation
    profile = user.worker_profile
    assert (profile.age, profile.breed, profile.coat_colour) == (4, "Maine Coon", "ginger")
    assert profile.strengths == ["cleaning", "cooking"]
    assert profile.weaknesses == ["baths"]
    [created] = events_of(db, "account.worker_created", user.id)
    assert created.payload["strengths"] == ["cleaning", "cooking"]
    [invitation] = events_of(db, "account.invitation_sent", user.id)
    assert invitation.payload["email"] == user.email
    assert invitation.payload["roles"] == ["worker"]
    page = manager_client.get("/manage/workers").get_data(as_text=True)
    assert "was created and an invitation is on its way" in page
    assert "new.worker@example.com" in page


def test_us010_manager_creates_a_client(manager_client, db):
    response = submit(manager_client, "/manage/clients", CLIENT_FORM)
    assert response.status_code == 303
    user = user_by_email(db, CLIENT_FORM["email"])
    assert user.roles == {"client"}
    assert (user.client_profile.address, user.client_profile.payment_method) == ("1 Toy Lane", "bank_transfer")
    assert len(events_of(db, "account.client_created", user.id)) == 1
    assert len(events_of(db, "account.invitation_sent", user.id)) == 1


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"email": "", "name": ""}, {"email", "name"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"age": "99"}, {"age"}),
        ({"age": "old"}, {"age"}),
        ({"name": "x" * 121}, {"name"}),
        ({"breed": "b" * 81}, {"breed"}),
        ({"strengths": ",".join(f"trait{n}" for n in range(21))}, {"strengths"}),
        ({"weaknesses": "w" * 61}, {"weaknesses"}),
    ],
)
def test_us120_worker_form_errors_are_422_next_to_the_fields(manager_client, db, changes, fields):
    before = row_counts(db)
    response = submit(manager_client, "/manage/workers", {**WORKER_FORM, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    shown = {name for name in WORKER_FORM if field_errors(html, name)}
    assert shown == fields
    assert row_counts(db) == before


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"email": "", "name": ""}, {"email", "name"}),
        ({"email": "two@@example.com"}, {"email"}),
        ({"payment_method": "bitcoin"}, {"payment_method"}),
        ({"address": "a" * 501}, {"address"}),
    ],
)
def test_us010_client_form_errors_are_422_next_to_the_fields(manager_client, db, changes, fields):
    before = row_counts(db)
    response = submit(manager_client, "/manage/clients", {**CLIENT_FORM, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert {name for name in CLIENT_FORM if field_errors(html, name)} == fields
    assert row_counts(db) == before


@pytest.mark.parametrize(("url", "form"), [("/manage/workers", WORKER_FORM), ("/manage/clients", CLIENT_FORM)])
def test_duplicate_email_in_another_case_is_409_next_to_the_email(manager_client, db, url, form):
    ClientFactory(email="a@example.com")
    before = row_counts(db)
    response = submit(manager_client, url, {**form, "email": "A@Example.com"})
    assert response.status_code == 409
    assert field_errors(response.get_data(as_text=True), "email") == ["A person with this email already exists."]
    assert row_counts(db) == before


def test_errors_come_back_as_a_fragment_that_htmx_swaps(manager_client, db):
    response = submit(manager_client, "/manage/workers", {**WORKER_FORM, "age": "99"}, **{"HX-Request": "true"})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "age")


def test_resend_invitation_publishes_a_new_one(manager_client, db):
    waiting = WorkerFactory(password_hash=None)
    accepted = WorkerFactory()
    url = f"/manage/people/{waiting.id}/invitation"
    response = manager_client.post(url, data={"csrf_token": csrf_token(manager_client, "/manage/workers")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/workers"
    assert len(events_of(db, "account.invitation_sent", waiting.id)) == 1
    url = f"/manage/people/{accepted.id}/invitation"
    response = manager_client.post(url, data={"csrf_token": csrf_token(manager_client, "/manage/workers")})
    assert response.status_code == 303
    assert events_of(db, "account.invitation_sent", accepted.id) == []


def test_people_pages_paginate(manager_client, db):
    WorkerFactory.create_batch(27)
    first = manager_client.get("/manage/workers").get_data(as_text=True)
    assert "Older &rarr;" in first
    second = manager_client.get("/manage/workers?page=2").get_data(as_text=True)
    assert second.count('data-label="Email"') == 2
    assert "Older &rarr;" not in second


def _statements_for(client, url: str) -> int:
    client.get(url)  # warm up: templates compiled, the session's user loaded the same way each time
    with count_statements(database.engine) as counter:
        assert client.get(url).status_code == 200
    return counter[0]


@pytest.mark.parametrize(("url", "factory"), [("/manage/workers", WorkerFactory), ("/manage/clients", ClientFactory)])
def test_people_lists_have_no_n_plus_1(manager_client, db, url, factory):
    factory.create_batch(3)
    few = _statements_for(manager_client, url)
    factory.create_batch(27)
    many = _statements_for(manager_client, url)
    assert few > 0
    assert many == few, f"{url}: {few} statements with 3 people, {many} with 30"


@pytest.mark.parametrize(("url", "factory"), [("/manage/clients", ClientFactory), ("/manage/workers", WorkerFactory)])
def test_people_lists_search_by_name_or_email(manager_client, db, url, factory):
    factory(name="Zelda Zebra", email="zelda@example.com")
    factory(name="Other Person", email="someone@example.com")
    html = manager_client.get(url, query_string={"q": "zebra"}).get_data(as_text=True)
    assert "Zelda Zebra" in html and "Other Person" not in html
    assert "Zelda Zebra" in manager_client.get(url, query_string={"q": "ZELDA@"}).get_data(as_text=True)
    assert "No " in manager_client.get(url, query_string={"q": "%_nobody"}).get_data(as_text=True)
