"""Managers' service types (US-021): create, edit, retire; price in units, stored in cents (US-050)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.orders import service_types
from app.orders import services as orders
from app.orders.models import OrderStatus, ServiceType
from app.platform.validation import ValidationError
from tests.support.factories import ClientFactory, SupplyFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.manage import make_order, next_slot
from tests.support.web import field_errors

URL = "/manage/service-types"


def _form(client, **values):
    data = {
        "name": "Cooking",
        "description": "Meals for the week",
        "base_price": "100.00",
        "duration_minutes": "90",
        "skills": "Cooking, baking",
        "consumables": "Apron\nContainers\n\nApron",
        "csrf_token": csrf_token(client, URL),
    }
    data.update(values)
    return data


def _type(db, name):
    db.session.expire_all()
    return db.session.scalar(select(ServiceType).where(ServiceType.name == name))


def test_us021_list_shows_the_form_with_the_default_price(manager_client, service_type):
    page = manager_client.get(URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "House cleaning" in html and "Offered" in html
    assert 'name="base_price"' in html and 'value="100.00"' in html  # US-050: 100 units by default


def test_us021_create_stores_cents_and_cleans_lists(manager_client, db):
    response = manager_client.post(URL, data=_form(manager_client, base_price="12.5"))
    assert response.status_code == 303
    created = _type(db, "Cooking")
    assert created.base_price_cents == 1250
    assert created.duration_minutes == 90
    assert created.skills == ["cooking", "baking"]
    assert created.consumables == ["Apron", "Containers"]
    assert "Cooking" in manager_client.get(URL).get_data(as_text=True)


@pytest.mark.parametrize(
    ("values", "field_id", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"base_price": "-1"}, "base_price", "zero or more"),
        ({"base_price": "1.005"}, "base_price", "two decimals"),
        ({"base_price": "lots"}, "base_price", "Enter an amount"),
        ({"base_price": "12,500"}, "base_price", "more than two decimals"),
        ({"duration_minutes": "5"}, "duration_minutes", "between 15"),
    ],
)
def test_us021_invalid_input_is_shown_next_to_the_field(manager_client, db, values, field_id, message):
    response = manager_client.post(URL, data=_form(manager_client, **values))
    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True), field_id)
    assert any(message.lower() in error.lower() for error in errors), errors
    assert _type(db, "Cooking") is None


def test_us021_duplicate_name_is_409(manager_client, db, service_type):
    response = manager_client.post(URL, data=_form(manager_client, name="house CLEANING"))
    assert response.status_code == 409
    assert field_errors(response.get_data(as_text=True), "name") == ["A service type with this name exists."]
    assert db.session.scalars(select(ServiceType)).all() == [service_type]


def test_us021_edit_shows_units_and_saves(manager_client, db, service_type):
    url = f"{URL}/{service_type.id}"
    html = manager_client.get(url).get_data(as_text=True)
    assert 'value="100.00"' in html and "Cloths\nSpray" in html and 'value="cleaning"' in html
    response = manager_client.post(
        url, data=_form(manager_client, name="Deep cleaning", base_price="150", skills="cleaning")
    )
    assert response.status_code == 303
    edited = _type(db, "Deep cleaning")
    assert edited.id == service_type.id and edited.base_price_cents == 150_00


def test_us021_edit_to_a_taken_name_is_409_and_changes_nothing(manager_client, db, service_type):
    other = service_types.save_service_type(None, name="Gardening")
    response = manager_client.post(f"{URL}/{other.id}", data=_form(manager_client, name="House cleaning"))
    assert response.status_code == 409
    assert _type(db, "Gardening") is not None


def test_us021_retire_keeps_old_orders_and_blocks_new_requests(manager_client, db, service_type):
    tom = ClientFactory()
    old = make_order(tom, service_type, status=OrderStatus.MATCHED)
    token = csrf_token(manager_client, URL)
    asked = manager_client.post(f"{URL}/{service_type.id}/retire", data={"csrf_token": token})
    assert asked.status_code == 200 and "Its 1 active order" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert not service_type.retired, "the first submit only asks for confirmation"
    response = manager_client.post(f"{URL}/{service_type.id}/retire", data={"csrf_token": token, "confirmed": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert service_type.retired
    assert service_type not in service_types.orderable_service_types()
    with pytest.raises(ValidationError) as refused:
        orders.request_order(tom, service_type_id=service_type.id, description="Help", slot_start=next_slot())
    assert "no longer offered" in str(refused.value)
    assert old.service_type_id == service_type.id
    page = manager_client.get(f"/manage/orders/{old.id}").get_data(as_text=True)
    assert "House cleaning" in page and "retired" in page
    assert "Retired" in manager_client.get(URL).get_data(as_text=True)

    response = manager_client.post(
        f"{URL}/{service_type.id}/restore", data={"csrf_token": csrf_token(manager_client, URL)}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert not service_type.retired and service_type in service_types.orderable_service_types()


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, SupplyFactory])
def test_us021_only_managers_reach_service_types(client, db, service_type, factory):
    login(client, factory())
    assert client.get(URL).status_code == 403
    assert (
        client.post(f"{URL}/{service_type.id}/retire", data={"csrf_token": csrf_token(client, "/login")}).status_code
        == 403
    )


def test_unknown_service_type_is_404(manager_client):
    assert manager_client.get(f"{URL}/999999").status_code == 404
