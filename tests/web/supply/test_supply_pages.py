"""The consumables department's pages (US-150, US-160, US-170): the kit queue, the printable job
acceptance form, "Cookie received", "Issued" with and without the cookie, illegal steps, access."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.extensions import db as database
from app.orders import services as orders
from app.orders.models import Order
from app.supplies import services as supplies
from app.supplies.models import CookieRequest, Kit
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import csrf_token
from tests.support.supplies import matched_order, next_slot
from tests.support.web import count_statements


def with_kit(order: Order) -> Order:
    """What the supplies consumer does on order.matched (tested in test_kit_requests.py)."""
    supplies.request_kit(order)
    supplies.request_cookie(order)
    return order


@pytest.fixture
def order(db, client_user, worker, service):
    return with_kit(matched_order(client_user, service, worker))


@pytest.fixture
def supply(login_as, supply_user):
    return login_as(supply_user)


def post(client, url: str, htmx: bool = False, **data):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data={"csrf_token": csrf_token(client, "/supply/"), **data}, headers=headers)


def order_events(order: Order) -> list[str]:
    return list(
        database.session.scalars(
            select(Event.type).where(Event.aggregate_id == str(order.id), Event.aggregate_type == "order")
        )
    )


def fresh(model, key):
    database.session.expire_all()
    return database.session.get(model, key)


def test_us150_queue_shows_who_which_order_slot_and_consumables_soonest_first(db, supply, client_user, worker, service):
    later = with_kit(matched_order(client_user, service, worker, slot=next_slot(5)))
    sooner = with_kit(matched_order(client_user, service, WorkerFactory(name="Tom"), slot=next_slot(3)))
    page = supply.get("/supply/").get_data(as_text=True)

    assert page.index(f'id="kit-{sooner.id}"') < page.index(f'id="kit-{later.id}"')
    row = page[page.index(f'id="kit-{later.id}"') :]
    row = row[: row.index("</tr>")]
    for expected in ("Whiskers", "Clara Client", "Deep cleaning", "sponge", "rubber gloves", "Requested", "To pack"):
        assert expected in row
    assert f"/supply/orders/{later.id}" in row


def test_us150_filters_to_issued_and_no_longer_needed(db, supply, supply_user, client_user, worker, service):
    issued = with_kit(matched_order(client_user, service, worker, slot=next_slot(3)))
    cancelled = with_kit(matched_order(client_user, service, worker, slot=next_slot(4)))
    waiting = with_kit(matched_order(client_user, service, worker, slot=next_slot(5)))
    supplies.issue(issued, supply_user, confirm_without_cookie=True)
    orders.cancel(cancelled, client_user, "No longer needed")

    def ids(url):
        return {int(n) for n in re.findall(r'id="kit-(\d+)"', supply.get(url).get_data(as_text=True))}

    assert ids("/supply/") == {waiting.id}
    assert ids("/supply/?show=issued") == {issued.id}
    assert ids("/supply/?show=not_needed") == {cancelled.id}
    page = supply.get("/supply/?show=not_needed").get_data(as_text=True)
    assert "No longer needed" in page
    assert supply.get("/supply/?show=everything").status_code == 400


def test_us160_printable_job_acceptance_form(db, supply, order):
    response = supply.get(f"/supply/orders/{order.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Job acceptance form" in page
    for expected in (f"Order #{order.id}", "Clara Client", order.address, "Clean the sofa", "Whiskers", "soap"):
        assert expected in page
    assert 'class="job-form"' in page and "no-print" in page
    css = supply.get("/static/css/supply.css").get_data(as_text=True)
    assert "@media print" in css and ".topbar" in css.split("@media print", 1)[1]


def test_us170_cookie_received(db, supply, supply_user, order):
    response = post(supply, f"/supply/orders/{order.id}/cookie")
    assert response.status_code == 303
    cookie = fresh(CookieRequest, order.id)
    assert cookie.status == "received" and cookie.received_by_id == supply_user.id
    assert "Received" in supply.get("/supply/").get_data(as_text=True)

    again = post(supply, f"/supply/orders/{order.id}/cookie")
    assert again.status_code == 422
    assert "already marked received" in again.get_data(as_text=True)


def test_us160_issue_with_cookie_moves_the_order_and_records_who(db, supply, supply_user, order):
    post(supply, f"/supply/orders/{order.id}/cookie")
    response = post(supply, f"/supply/orders/{order.id}/issue")
    assert response.status_code == 303

    assert fresh(Order, order.id).status == "kit_issued"
    kit = fresh(Kit, order.id)
    assert kit.issued_at is not None and kit.issued_by_id == supply_user.id
    assert kit.issued_without_cookie is False
    assert order_events(order)[-1] == "order.kit_issued"


def test_us170_issue_without_cookie_asks_first_then_marks_it(db, supply, order):
    before = order_events(order)
    response = post(supply, f"/supply/orders/{order.id}/issue")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "hasn&#39;t arrived" in page or "hasn't arrived" in page
    assert 'name="confirm" value="1"' in page
    assert fresh(Order, order.id).status == "matched", "asking changes nothing"
    assert order_events(order) == before

    response = post(supply, f"/supply/orders/{order.id}/issue", confirm="1")
    assert response.status_code == 303
    assert fresh(Order, order.id).status == "kit_issued"
    assert fresh(Kit, order.id).issued_without_cookie is True
    assert "without cookie" in supply.get("/supply/?show=issued").get_data(as_text=True)


def test_us170_issue_without_cookie_with_htmx_swaps_the_row(db, supply, order):
    response = post(supply, f"/supply/orders/{order.id}/issue", htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert fragment.lstrip().startswith(f'<tr id="kit-{order.id}"') and "<html" not in fragment
    assert 'name="confirm" value="1"' in fragment

    response = post(supply, f"/supply/orders/{order.id}/issue", htmx=True, confirm="1")
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "Issued." in fragment and "kit-issued" in fragment


@pytest.mark.parametrize("how", ["cancelled", "issued"])
def test_us160_illegal_issue_is_refused_and_changes_nothing(db, supply, supply_user, client_user, order, how):
    if how == "cancelled":
        orders.cancel(order, client_user, "Plans changed")
        expected = "kit is not needed"
    else:
        supplies.issue(order, supply_user, confirm_without_cookie=True)
        expected = "already issued"
    database.session.flush()
    status, events = fresh(Order, order.id).status, order_events(order)

    for htmx in (False, True):
        response = post(supply, f"/supply/orders/{order.id}/issue", htmx=htmx, confirm="1")
        assert response.status_code == 422
        assert expected in response.get_data(as_text=True)
    assert fresh(Order, order.id).status == status
    assert order_events(order) == events


def test_us150_an_order_without_a_kit_is_404(db, supply, client_user, worker, service):
    bare = matched_order(client_user, service, worker)
    assert supply.get(f"/supply/orders/{bare.id}").status_code == 404
    assert post(supply, f"/supply/orders/{bare.id}/issue", confirm="1").status_code == 404
    assert post(supply, "/supply/orders/999999/cookie").status_code == 404


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, ManagerFactory])
def test_only_the_supply_role_reaches_supply(db, client, factory, order):
    from tests.support.fixtures import login

    login(client, factory())
    assert client.get("/supply/").status_code == 403
    assert client.get(f"/supply/orders/{order.id}").status_code == 403
    token = csrf_token(client, "/")
    assert client.post(f"/supply/orders/{order.id}/issue", data={"csrf_token": token}).status_code == 403
    assert fresh(Order, order.id).status == "matched"


def test_supply_cannot_see_manage(db, supply):
    assert supply.get("/manage/").status_code == 403
    assert supply.get("/manage/orders").status_code == 403


def test_us150_kit_queue_has_no_n_plus_1(db, supply, client_user, service):
    def make(n: int) -> None:
        for i in range(n):
            order = matched_order(client_user, service, WorkerFactory(), slot=next_slot(2 + i % 20, hour=8 + i % 10))
            with_kit(order)
            if i % 3 == 0:
                supplies.mark_cookie_received(order, client_user)

    def statements() -> int:
        supply.get("/supply/")  # warm caches (templates, the logged-in user)
        with count_statements(database.engine) as counter:
            response = supply.get("/supply/")
        assert response.status_code == 200
        return counter[0]

    make(3)
    with_3 = statements()
    assert with_3 <= 12, with_3
    make(27)
    assert database.session.scalar(select(func.count()).select_from(Kit)) == 30
    assert statements() == with_3, with_3


def test_the_queue_refreshes_itself_and_after_each_action(db, supply, order):
    page = supply.get("/supply/").get_data(as_text=True)
    assert 'id="kit-queue"' in page and "kits-changed from:body" in page
    fragment = supply.get("/supply/", headers={"HX-Request": "true", "HX-Target": "kit-queue"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="kit-queue"' in html and f"kit-{order.id}" in html
    response = post(supply, f"/supply/orders/{order.id}/cookie", htmx=True)
    assert response.status_code == 200 and response.headers.get("HX-Trigger") == "kits-changed"
