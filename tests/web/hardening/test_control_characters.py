"""Control characters are refused in every text input, forms and API (a clear 4xx, nothing changes)."""

from __future__ import annotations

import pytest

from app.accounts.services import create_api_token
from app.platform.validation import control_character_error, has_control_characters, single_line
from tests.support.factories import ManagerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.web import field_errors, row_counts

WORKER_FORM = {
    "email": "new.worker@example.com",
    "name": "Whiskers",
    "age": "4",
    "breed": "Maine Coon",
    "coat_colour": "ginger",
    "strengths": "cleaning",
    "weaknesses": "baths",
}


@pytest.mark.parametrize(
    ("value", "single", "multi"),
    [
        ("plain name", False, False),
        ("Ünïcödé – ok", False, False),
        ("line\nbreak", True, False),
        ("carriage\rreturn", True, False),
        ("tab\there", True, False),
        ("nul\x00byte", True, True),
        ("escape\x1b[31m", True, True),
        ("del\x7f", True, True),
        ("c1\x85next line", True, True),
        ("separator\u2028", True, True),
    ],
)
def test_the_shared_check(value, single, multi):
    assert has_control_characters(value) is single
    assert has_control_characters(value, multiline=True) is multi
    assert (control_character_error(value) is not None) is single
    assert "\n" not in single_line(value) and "\r" not in single_line(value)


@pytest.fixture
def manager_client(client, db):
    login(client, ManagerFactory())
    return client


@pytest.mark.parametrize("field", ["name", "breed", "coat_colour", "strengths", "email"])
def test_us120_a_line_break_in_a_worker_field_is_422_next_to_it(manager_client, db, field):
    before = row_counts(db)
    token = csrf_token(manager_client, "/manage/workers")
    data = {**WORKER_FORM, field: WORKER_FORM[field] + "\nBcc: victim@example.com", "csrf_token": token}
    response = manager_client.post("/manage/workers", data=data)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), field)
    assert row_counts(db) == before


def test_us021_a_line_break_in_a_service_type_name_is_refused(manager_client, db):
    from sqlalchemy import func, select

    from app.orders.models import ServiceType

    url = "/manage/service-types"
    count = db.session.scalar(select(func.count()).select_from(ServiceType))
    data = {
        "name": "Cooking\r\nSubject: spam",
        "description": "Two lines\nare fine here",
        "base_price": "10",
        "duration_minutes": "60",
        "skills": "cooking",
        "consumables": "",
        "csrf_token": csrf_token(manager_client, url),
    }
    response = manager_client.post(url, data=data)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "name")
    assert db.session.scalar(select(func.count()).select_from(ServiceType)) == count


def test_a_nul_byte_anywhere_in_a_form_is_refused_before_any_view(client, db):
    token = csrf_token(client, "/login")
    for data in ({"email": "a\x00@example.com", "password": "x"}, {"email": "a@example.com", "password": "p\x00"}):
        response = client.post("/login", data={**data, "csrf_token": token})
        assert response.status_code == 422
    response = client.post("/forgot-password", data={"email": "a\x00b@example.com", "csrf_token": token})
    assert response.status_code == 422


def test_a_nul_byte_in_a_query_string_is_400(client, db):
    assert client.get("/login?next=%00").status_code == 400


@pytest.fixture
def auth(db):
    token = create_api_token(ManagerFactory(), "tests")
    db.session.flush()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Api\nWorker"}, "name"),
        ({"breed": "Siam\x00ese"}, "breed"),
        ({"strengths": ["ok", "bad\r\nline"]}, "strengths"),
        ({"email": "a@example.com\nBcc: b@example.com"}, "email"),
    ],
)
def test_us010_api_refuses_control_characters_per_field(client, db, auth, changes, field):
    before = row_counts(db)
    worker = {"email": "api.worker@example.com", "name": "Api Worker", "age": 5, "breed": "Siamese"}
    response = client.post("/api/v1/workers", json={**worker, **changes}, headers=auth)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert row_counts(db) == before
