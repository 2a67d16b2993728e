"""Forms and htmx requests need the CSRF token; the API (bearer tokens, no cookies) does not."""

from __future__ import annotations

from tests.support.factories import ManagerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.web import row_counts

WORKER = {"email": "csrf-worker@example.com", "name": "Csrf Cat", "age": "3"}


def test_form_post_without_token_is_refused(client, db):
    login(client, ManagerFactory())
    before = row_counts(db)
    response = client.post("/manage/workers", data=WORKER)
    assert response.status_code == 400
    assert b"Your form expired" in response.data
    assert row_counts(db) == before


def test_form_post_with_a_wrong_token_is_refused(client, db):
    login(client, ManagerFactory())
    response = client.post("/manage/workers", data={**WORKER, "csrf_token": "not-the-token"})
    assert response.status_code == 400


def test_form_post_with_token_works(client, db):
    login(client, ManagerFactory())
    token = csrf_token(client, "/manage/workers")
    response = client.post("/manage/workers", data={**WORKER, "csrf_token": token})
    assert response.status_code == 303


def test_logout_without_token_is_refused_and_keeps_the_session(client, db):
    login(client, ManagerFactory())
    assert client.post("/logout").status_code == 400
    assert client.get("/manage/").status_code == 200
    token = csrf_token(client, "/manage/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/manage/").status_code == 302


def test_login_without_token_is_refused(client, db):
    manager = ManagerFactory()
    client.get("/login")
    response = client.post("/login", data={"email": manager.email, "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/manage/").status_code == 302


def test_htmx_post_without_header_is_refused_with_a_fragment(client, db):
    login(client, ManagerFactory())
    response = client.post("/manage/workers", data=WORKER, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert b"<html" not in response.data
    assert b"Your form expired" in response.data


def test_htmx_post_with_header_works(client, db):
    login(client, ManagerFactory())
    token = csrf_token(client, "/manage/workers")
    response = client.post("/manage/workers", data=WORKER, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 303


def test_token_of_another_session_is_refused(client, new_client, db):
    other = new_client()
    foreign_token = csrf_token(other, "/login")
    login(client, ManagerFactory())
    response = client.post("/manage/workers", data={**WORKER, "csrf_token": foreign_token})
    assert response.status_code == 400
