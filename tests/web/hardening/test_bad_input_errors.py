"""Each kind of bad input named in the hardening review is a clear 400/404/422, never a 500."""

from __future__ import annotations

import pytest

from app.accounts.services import create_api_token
from app.platform.money import AmountError, parse_amount
from app.web.core.input_guard import json_depth_exceeds
from tests.support.factories import ManagerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.web import row_counts


@pytest.fixture
def manager_client(client, db):
    login(client, ManagerFactory())
    return client


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999999"])
def test_ids_beyond_the_integer_range_are_404(manager_client, number):
    for url in (f"/manage/orders/{number}", f"/manage/workers/{number}", f"/manage/billing/invoices/{number}"):
        assert manager_client.get(url).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999", "2147483648", "-5", "x", "NaN"])
def test_page_numbers_beyond_range_are_clamped(manager_client, page):
    for url in ("/manage/workers", "/manage/clients", "/manage/orders", "/manage/outbox"):
        assert manager_client.get(url, query_string={"page": page, "per_page": page}).status_code == 200


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e309", "9" * 40, "9" * 5000])
def test_amounts_that_are_not_numbers_or_too_big_are_refused(value):
    with pytest.raises(AmountError):
        parse_amount(value, allow_negative=True)


def test_a_huge_credit_is_422_not_an_overflow(manager_client, db):
    from tests.support.factories import WorkerFactory

    worker = WorkerFactory()
    before = row_counts(db)
    url = f"/manage/workers/{worker.id}/credits"
    data = {
        "amount": "9" * 30,
        "reason": "junk",
        "csrf_token": csrf_token(manager_client, f"/manage/workers/{worker.id}"),
    }
    response = manager_client.post(url, data=data)
    assert response.status_code == 422
    assert row_counts(db) == before


def test_deeply_nested_json_to_the_api_is_400(client, db):
    token = create_api_token(ManagerFactory(), "tests")
    db.session.flush()
    auth = {"Authorization": f"Bearer {token}"}
    for body in ("[" * 100_000 + "]" * 100_000, '{"name": ' + "{" * 50_000):
        response = client.post("/api/v1/workers", data=body, content_type="application/json", headers=auth)
        assert response.status_code == 400
        assert "nested" in response.get_json()["error"]
    assert json_depth_exceeds(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') is False  # brackets in a string


def test_nan_in_json_to_the_api_is_refused(client, db):
    token = create_api_token(ManagerFactory(), "tests")
    db.session.flush()
    auth = {"Authorization": f"Bearer {token}"}
    body = '{"email": "n@example.com", "name": "N", "age": NaN, "breed": "x", "coat_colour": "y"}'
    response = client.post("/api/v1/workers", data=body, content_type="application/json", headers=auth)
    assert response.status_code in (400, 422)
    age = "9" * 5000
    response = client.post("/api/v1/workers", json={"email": "n@example.com", "name": "N", "age": age}, headers=auth)
    assert response.status_code == 422


def test_nul_bytes_in_login_and_reset_are_refused(client, db):
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"email": "\x00", "password": "\x00", "csrf_token": token}).status_code == 422
    assert client.post("/reset-password/\x00abc", data={"csrf_token": token}).status_code in (404, 410, 422)
