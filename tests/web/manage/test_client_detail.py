"""A client's page for managers (issue 12, point 10): contact with the phone, orders newest first
and paged, money and invoices with links to the ledger and invoice pages, the edit form with its
messages, and a number of statements that does not grow with the client's orders."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from app.accounts.models import User
from tests.support.billing_pages import charge, invoice
from tests.support.factories import ClientFactory, SupplyFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.orders import S, frozen_time, make_order, make_service, nth_slot
from tests.support.web import count_statements, field_errors

__all__ = ["frozen_time"]  # the orders' slots are judged against a frozen Monday


@pytest.fixture
def tom(db):
    tom = ClientFactory(name="Tom Tester", email="tom@example.com")
    tom.client_profile.phone, tom.client_profile.phone_tel = "+44 20 7946 0018", "+442079460018"
    tom.client_profile.address = "1 Yarn Street"
    db.session.flush()
    return tom


@pytest.fixture
def cleaning(db):
    return make_service("House cleaning")


def _rows(html: str, table_class: str) -> list[str]:
    body = html.split(f'<table class="{table_class}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)


def test_the_page_shows_contact_orders_and_money_with_links(manager_client, db, tom, cleaning):
    worker = WorkerFactory(name="Whiskers")
    done = make_order(tom, cleaning, worker, S.COMPLETED, slot=nth_slot(0))
    waiting = make_order(tom, cleaning, slot=nth_slot(1))
    someone_elses = make_order(ClientFactory(), cleaning, slot=nth_slot(2))
    owed = charge(tom, 9500, order_id=done.id)
    paid = invoice(tom, "client", date(2026, 11, 9), 9500, status="paid", covers=[owed])
    failed = invoice(tom, "client", date(2026, 11, 16), 4000, status="failed")

    response = manager_client.get(f"/manage/clients/{tom.id}")
    assert response.status_code == 200
    html = response.text
    assert '<a href="mailto:tom@example.com">tom@example.com</a>' in html
    assert '<a href="tel:+442079460018">+44 20 7946 0018</a>' in html
    assert "1 Yarn Street" in html and "Card" in html
    # Orders: newest first, each with its status, price and link.
    rows = _rows(html, "client-orders")
    assert [re.search(r"/manage/orders/(\d+)", row).group(1) for row in rows] == [str(waiting.id), str(done.id)]
    assert "Completed" in rows[1] and "Whiskers" in rows[1] and f"/manage/workers/{worker.id}" in rows[1]
    assert "fixed when matched" in rows[0]
    assert f'/manage/orders/{someone_elses.id}"' not in html
    assert "Orders <small>(2)</small>" in html
    # Money: the balance, the invoices with their status, links to the ledger and each invoice.
    assert "95.00" in html
    invoice_rows = _rows(html, "invoices")
    assert f"/manage/billing/invoices/{failed.id}" in invoice_rows[0] and "Payment failed" in invoice_rows[0]
    assert f"/manage/billing/invoices/{paid.id}" in invoice_rows[1] and "Paid" in invoice_rows[1]
    assert "/manage/billing/ledger?account=" in html
    assert f'href="/manage/clients/{tom.id}/edit"' in html


def test_the_clients_list_and_the_order_page_link_to_the_client_page(manager_client, db, tom, cleaning):
    order = make_order(tom, cleaning, slot=nth_slot(0))
    assert f'<a href="/manage/clients/{tom.id}">Tom Tester</a>' in manager_client.get("/manage/clients").text
    assert f'<a href="/manage/clients/{tom.id}">Tom Tester</a>' in manager_client.get(f"/manage/orders/{order.id}").text
    assert "+44 20 7946 0018" in manager_client.get("/manage/clients").text


def test_orders_are_paged_newest_first(manager_client, db, tom, cleaning):
    made = [make_order(tom, cleaning, slot=nth_slot(i)) for i in range(25)]
    first = manager_client.get(f"/manage/clients/{tom.id}").text
    second = manager_client.get(f"/manage/clients/{tom.id}?page=2").text
    ids = lambda html: [int(i) for i in re.findall(r'<td data-label="#"><a href="/manage/orders/(\d+)"', html)]  # noqa: E731
    assert ids(first) == [order.id for order in reversed(made)][:20]
    assert ids(second) == [order.id for order in reversed(made)][20:]
    assert "Older &rarr;" in first and "Older &rarr;" not in second


def test_only_a_client_has_a_client_page(manager_client, db):
    assert manager_client.get(f"/manage/clients/{WorkerFactory().id}").status_code == 404
    assert manager_client.get("/manage/clients/999999").status_code == 404
    assert manager_client.get(f"/manage/clients/{WorkerFactory().id}/edit").status_code == 404


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, SupplyFactory])
def test_nobody_but_a_manager_sees_a_client_page(client, db, tom, factory):
    login(client, factory())
    assert client.get(f"/manage/clients/{tom.id}").status_code == 403
    assert client.post(f"/manage/clients/{tom.id}/edit", data={"phone": "020 7946 0000"}).status_code in (400, 403)
    db.session.expire_all()
    assert db.session.get(User, tom.id).client_profile.phone == "+44 20 7946 0018"


def _page_statements(client, db, user, orders: int) -> int:
    # A service and a worker of its own for each order, so a lazy load per row would show.
    for i in range(orders):
        service = make_service(f"Service {user.id}-{i}")
        worker = WorkerFactory() if i % 2 else None
        make_order(user, service, worker, S.MATCHED if i % 2 else S.REQUESTED, slot=nth_slot(i))
        invoice(user, "client", date(2026, 1, 5) + timedelta(weeks=i), 1000 + i, status="paid")
    charge(user, 1000)
    db.session.commit()
    with count_statements(db.engine) as counter:
        assert client.get(f"/manage/clients/{user.id}?per_page=50").status_code == 200
    return counter[0]


def test_the_page_costs_the_same_statements_for_3_and_30_orders(manager_client, db):
    """No N+1: orders with their service and worker, and invoices, are read a page at a time."""
    few = _page_statements(manager_client, db, ClientFactory(), 3)
    many = _page_statements(manager_client, db, ClientFactory(), 30)
    assert few == many, (few, many)


# ---------------------------------------------------------------- editing


def _edit(client, user, **data):
    url = f"/manage/clients/{user.id}/edit"
    form = {"name": user.name, "address": "", "phone": "", "payment_method": "card", **data}
    return client.post(url, data={**form, "csrf_token": csrf_token(client, url)})


def test_a_manager_edits_the_phone_and_sees_it_as_typed(manager_client, db, tom):
    form = manager_client.get(f"/manage/clients/{tom.id}/edit").text
    assert 'value="+44 20 7946 0018"' in form and 'type="tel"' in form and "Tom Tester" in form
    response = _edit(manager_client, tom, phone="(0113) 496-0734", address="2 Box Road", payment_method="bank_transfer")
    assert response.status_code == 303 and response.headers["Location"] == f"/manage/clients/{tom.id}"
    db.session.expire_all()
    profile = db.session.get(User, tom.id).client_profile
    assert (profile.phone, profile.phone_tel) == ("(0113) 496-0734", "01134960734")
    assert (profile.address, profile.payment_method) == ("2 Box Road", "bank_transfer")
    page = manager_client.get(f"/manage/clients/{tom.id}").text
    assert '<a href="tel:01134960734">(0113) 496-0734</a>' in page


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("0800-CATS", "Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958."),
        ("12-34", "Too short: a phone number has at least 6 digits."),
        ("+44 (20) 7946 0958 1234 5", "Too long: a phone number has at most 15 digits."),
        ("44 + 20", "A + may only come first, e.g. +44 20 7946 0958."),
    ],
)
def test_a_bad_phone_is_refused_next_to_the_field_and_nothing_changes(manager_client, db, tom, phone, message):
    response = _edit(manager_client, tom, phone=phone, name="Renamed")
    assert response.status_code == 422
    assert field_errors(response.text, "phone") == [message]
    assert f'value="{phone}"' in response.text  # what was typed stays in the field
    db.session.expire_all()
    user = db.session.get(User, tom.id)
    assert (user.name, user.client_profile.phone) == ("Tom Tester", "+44 20 7946 0018")


def test_the_new_client_form_takes_a_phone_and_reports_every_problem_at_once(manager_client, db):
    url = "/manage/clients"
    data = {"email": "", "name": "Pat", "phone": "abc", "payment_method": "card"}
    response = manager_client.post(url, data={**data, "csrf_token": csrf_token(manager_client, url)})
    assert response.status_code == 422
    assert field_errors(response.text, "email")
    assert field_errors(response.text, "phone") == ["Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958."]
    data = {**data, "email": "pat@example.com", "phone": "+44 20 7946 0999"}
    response = manager_client.post(url, data={**data, "csrf_token": csrf_token(manager_client, url)})
    assert response.status_code == 303
    user = db.session.query(User).filter_by(email="pat@example.com").one()
    assert (user.client_profile.phone, user.client_profile.phone_tel) == ("+44 20 7946 0999", "+442079460999")
