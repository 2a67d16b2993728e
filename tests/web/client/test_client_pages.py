"""The client's pages: dashboard (US-010, US-040 display), request form with htmx price and times (US-020),
the order page with timeline, photos and cancel, rebooking a no-show (US-132), ownership by guessed ids."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order
from app.platform.uploads import save_photo
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.orders import NOW, SLOT, S, make_order, make_service, nth_slot, slot_day
from tests.support.web import count_statements, field_errors


@pytest.fixture
def service(db):
    return make_service()


@pytest.fixture
def me(db):
    return ClientFactory(name="Alice Client")


@pytest.fixture
def other(db):
    return ClientFactory(name="Bob Other")


@pytest.fixture
def worker(db):
    return WorkerFactory(name="Whiskers")


@pytest.fixture
def browser(client, me):
    login(client, me)
    client.token = csrf_token(client, "/client/")
    return client


def order_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Order))


def form_data(browser, service, **values) -> dict:
    data = {
        "csrf_token": browser.token,
        "service_type": str(service.id),
        "description": "Please clean the sofa",
        "day": slot_day(1),
        "start": "10:00",
        "address": "",
    }
    data.update(values)
    return data


# ---------------------------------------------------------------- dashboard (US-010, US-040)


def test_dashboard_lists_my_orders_newest_slot_first_us010(browser, db, me, other, service, worker):
    early = make_order(me, service, slot=SLOT)
    late = make_order(me, service, worker, S.MATCHED, slot=SLOT + timedelta(days=2))
    foreign = make_order(other, service, slot=SLOT + timedelta(days=1), description="Not yours")
    assert early.slot_start < late.slot_start
    html = browser.get("/client/").get_data(as_text=True)
    assert "Request help" in html and 'href="/client/orders/new"' in html
    assert html.index(f"#{late.id}") < html.index(f"#{early.id}")  # newest slot first
    assert f"#{foreign.id}<" not in html
    assert "Whiskers" in html  # the worker's name once matched
    assert "100.00" in html and "fixed when matched" in html
    assert "status-matched" in html and "status-requested" in html


def test_dashboard_shows_the_current_discount_us040(browser):
    html = browser.get("/client/").get_data(as_text=True)
    # The paid total is 0 until billing exists: no discount, 10,000.01 units to the first tier.
    assert "No discount yet" in html
    assert "10,000.01" in html and "5%" in html


def test_dashboard_is_paginated(browser, db, me, service):
    for i in range(22):
        make_order(me, service, slot=nth_slot(i))
    first = browser.get("/client/").get_data(as_text=True)
    second = browser.get("/client/?page=2").get_data(as_text=True)
    assert first.count('class="order-card"') == 20 and "page=2" in first
    assert second.count('class="order-card"') == 2


def _dashboard_queries(browser, db, me, n: int) -> int:
    """Each order has its own service and (every other one) its own worker: lazy loads would show."""
    orders = []
    for i in range(n):
        service = make_service(f"Service {me.id}-{i}")
        worker = WorkerFactory() if i % 2 else None
        orders.append(make_order(me, service, worker, S.MATCHED if worker else S.REQUESTED, slot=nth_slot(i)))
    db.session.commit()
    with count_statements(db.engine) as counter:
        response = browser.get("/client/?per_page=50")
    assert response.status_code == 200
    assert all(f'href="/client/orders/{order.id}"' in response.text for order in orders)
    return counter[0]


def test_dashboard_queries_do_not_grow_with_orders(db, browser, me, new_client):
    """No N+1: 3 and 30 orders (with and without a worker) cost the same number of queries."""
    few = _dashboard_queries(browser, db, me, 3)
    another = ClientFactory()
    other_browser = new_client()
    login(other_browser, another)
    many = _dashboard_queries(other_browser, db, another, 30)
    assert few == many, (few, many)
    # The user and roles, the page of orders (workers joined, their roles not loaded), the paid
    # total, the profile; the test's savepoint and its rollback.
    assert many <= 7, many


# ---------------------------------------------------------------- the request form (US-020)


def test_request_form_offers_orderable_services_times_and_my_address(browser, db, service):
    retired = make_service("Old chimney sweep")
    service_types.retire_service_type(retired)
    html = browser.get("/client/orders/new").get_data(as_text=True)
    assert "Test cleaning" in html and "Old chimney sweep" not in html
    # US-020: only bookable days are offered: from today, working days only (no Sunday), within the horizon.
    days = re.findall(r'<option (?:selected )?value="(\d{4}-\d\d-\d\d)"', html)
    assert days[0] == NOW.date().isoformat() and slot_day(6) not in days and slot_day(5) in days
    assert len(days) == len({*days}) and max(days) <= slot_day(60)
    # 120-minute jobs between 08:00 and 20:00 on a 30-minute grid: 08:00 ... 18:00.
    assert '<option value="08:00">' in html and '<option value="18:00">' in html
    assert 'value="18:30"' not in html
    assert "1 Test Street" in html  # the client's address by default
    assert "100.00" in html  # the approximate price, before any JavaScript
    assert 'hx-get="/client/orders/quote"' in html and 'hx-get="/client/orders/times"' in html


def test_quote_fragment_with_htmx_us020(browser, db, service):
    dear = make_service("Deep clean", base_price_cents=25_000)
    response = browser.get(f"/client/orders/quote?service_type={dear.id}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and 'id="quote"' in html
    assert "250.00" in html


def test_quote_fragment_for_a_retired_or_missing_service(browser, db, service):
    service_types.retire_service_type(service)
    html = browser.get(f"/client/orders/quote?service_type={service.id}", headers={"HX-Request": "true"}).text
    assert "no longer offered" in html and "100.00" not in html
    assert "Choose a service" in browser.get("/client/orders/quote", headers={"HX-Request": "true"}).text


def test_time_choices_follow_the_service_duration(browser, db, service):
    long_job = make_service("Long job", duration_minutes=600)
    response = browser.get(
        f"/client/orders/times?service_type={long_job.id}&start=09:00", headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="start-field"' in html
    starts = re.findall(r'<option (?:selected )?value="(\d\d:\d\d)"', html)
    assert starts == ["08:00", "08:30", "09:00", "09:30", "10:00"]  # ends by 20:00
    assert '<option selected value="09:00">' in html  # the chosen time is kept
    short = browser.get(f"/client/orders/times?service_type={service.id}", headers={"HX-Request": "true"}).text
    assert 'value="18:00"' in short


def test_request_creates_the_order_and_redirects_us020(browser, db, me, service):
    response = browser.post("/client/orders/new", data=form_data(browser, service))
    assert response.status_code == 303
    order = db.session.scalar(select(Order).where(Order.client_id == me.id))
    assert response.headers["Location"] == f"/client/orders/{order.id}"
    assert order.description == "Please clean the sofa"
    assert order.address == "1 Test Street"
    assert order.slot_start == SLOT and order.status == S.REQUESTED
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your request was sent" in page and "Requested" in page


def test_request_with_another_address(browser, db, me, service):
    browser.post("/client/orders/new", data=form_data(browser, service, address="9 Other Road"))
    assert db.session.scalar(select(Order.address).where(Order.client_id == me.id)) == "9 Other Road"


@pytest.mark.parametrize(
    ("values", "field_id", "message"),
    [
        ({"day": NOW.date().isoformat(), "start": "08:00"}, "start", "future"),  # earlier today
        ({"start": "06:00"}, "start", "between 08:00 and 20:00"),
        ({"start": "19:00"}, "start", "between 08:00 and 20:00"),  # would end after closing
        ({"day": slot_day(6)}, "start", "day"),  # a Sunday
        ({"day": ""}, "start", "Choose a date and time"),
        ({"day": "not-a-date"}, "day", "date"),
        ({"description": "   "}, "description", "Tell us what you need help with"),
        ({"service_type": ""}, "service_type", "Choose a service"),
    ],
)
def test_request_refuses_bad_input_with_422_and_creates_nothing(browser, db, service, values, field_id, message):
    before = order_count(db)
    response = browser.post("/client/orders/new", data=form_data(browser, service, **values))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert any(message in error for error in field_errors(html, field_id)), field_errors(html, field_id)
    assert order_count(db) == before
    if values.get("service_type") != "":
        assert "100.00" in html  # without JavaScript the price shows after the errors


def test_request_refuses_a_retired_service(browser, db, service):
    service_types.retire_service_type(service)
    fresh = make_service("Fresh")
    response = browser.post("/client/orders/new", data=form_data(browser, service))
    assert response.status_code == 422
    assert field_errors(response.text, "service_type") == ["This service is no longer offered."]
    assert order_count(db) == 0
    assert fresh.name in response.text


# ---------------------------------------------------------------- the order page


def test_order_page_shows_details_worker_and_timeline(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.KIT_ISSUED)
    orders.confirm(order, worker)
    html = browser.get(f"/client/orders/{order.id}").get_data(as_text=True)
    for text in ("Test cleaning", "1 Test Street", "Clean the sofa", "Whiskers", "Tabby", "grey", "100.00"):
        assert text in html, text
    assert "Requested" in html
    assert "Whiskers was matched to your order; the price is fixed at 100.00" in html
    assert "Whiskers confirmed they are coming" in html
    assert "The consumables kit was issued" in html
    assert f'action="/client/orders/{order.id}/cancel"' in html
    assert "Book again" not in html


def test_requested_order_says_the_price_is_fixed_when_matched(browser, db, me, service):
    order = make_order(me, service)
    html = browser.get(f"/client/orders/{order.id}").text
    assert "fixed when matched" in html and "finding the right worker" in html


def test_order_photos_are_shown_to_the_client_only(browser, db, me, other, service, worker, uploads, new_client):
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    from tests.support.images import png_bytes

    order = make_order(me, service, worker, S.KIT_ISSUED)
    orders.start(order, worker, save_photo(FileStorage(BytesIO(png_bytes()), "door.png"), "checkin"))
    orders.complete(order, worker, save_photo(FileStorage(BytesIO(png_bytes()), "report.png"), "reports"))
    html = browser.get(f"/client/orders/{order.id}").text
    assert f"/client/orders/{order.id}/photos/checkin" in html and f"/client/orders/{order.id}/photos/report" in html
    assert "Completed: the signed report was handed in" in html
    assert "Cancel this order" not in html
    for kind in ("checkin", "report"):
        response = browser.get(f"/client/orders/{order.id}/photos/{kind}")
        assert response.status_code == 200 and response.mimetype == "image/png"
    assert browser.get(f"/client/orders/{order.id}/photos/passport").status_code == 404
    stranger = new_client()
    login(stranger, other)
    assert stranger.get(f"/client/orders/{order.id}/photos/checkin").status_code == 404
    assert stranger.get(f"/client/orders/{order.id}/photos/report").status_code == 404


def test_missing_photo_is_404(browser, db, me, service, worker, uploads):
    order = make_order(me, service, worker, S.KIT_ISSUED)
    assert browser.get(f"/client/orders/{order.id}/photos/checkin").status_code == 404  # not taken yet
    orders.start(order, worker, "checkin/gone.png")
    assert browser.get(f"/client/orders/{order.id}/photos/checkin").status_code == 404  # file lost


def test_another_clients_orders_are_404_whatever_id_is_guessed(browser, db, me, other, service, worker):
    """Ownership: pages, actions and photos of someone else's order, and ids that don't exist."""
    theirs = [make_order(other, service), make_order(other, service, worker, S.FAILED)]
    mine = make_order(me, service)
    guesses = [o.id for o in theirs] + [mine.id + 1000, 0]
    for order_id in guesses:
        assert browser.get(f"/client/orders/{order_id}").status_code == 404
        assert browser.get(f"/client/orders/{order_id}/photos/checkin").status_code == 404
        assert browser.get(f"/client/orders/{order_id}/rebook").status_code == 404
        data = {"csrf_token": browser.token, "reason": "mine now", "day": slot_day(2), "start": "10:00"}
        assert browser.post(f"/client/orders/{order_id}/cancel", data=data).status_code == 404
        assert browser.post(f"/client/orders/{order_id}/rebook", data=data).status_code == 404
    db.session.expire_all()
    assert [o.status for o in theirs] == [S.REQUESTED, S.FAILED]
    assert db.session.scalar(select(func.count()).where(Order.rebooked_from_id == theirs[1].id)) == 0


def test_a_worker_cannot_use_the_client_pages(client, db, me, service, worker):
    order = make_order(me, service, worker, S.MATCHED)
    login(client, worker)
    assert client.get(f"/client/orders/{order.id}").status_code == 403


# ---------------------------------------------------------------- cancelling


def test_cancel_with_a_reason(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.MATCHED)
    data = {"csrf_token": browser.token, "reason": "I fixed it myself"}
    first = browser.post(f"/client/orders/{order.id}/cancel", data=data)
    assert first.status_code == 200 and "costs the full price: 100.00 units" in first.text
    db.session.expire_all()
    assert order.status == S.MATCHED, "the first submit only asks for confirmation"
    response = browser.post(f"/client/orders/{order.id}/cancel", data={**data, "confirmed": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert order.status == S.CANCELLED and order.finish_reason == "I fixed it myself"
    html = browser.get(f"/client/orders/{order.id}").text
    assert "Your order was cancelled" in html and "Cancelled by you: I fixed it myself" in html


def test_us030_cancelling_before_matching_says_it_costs_nothing(browser, db, me, service):
    order = make_order(me, service)
    first = browser.post(f"/client/orders/{order.id}/cancel", data={"csrf_token": browser.token, "reason": "Moved"})
    assert first.status_code == 200 and "costs nothing" in first.text
    assert 'name="confirmed" value="yes"' in first.text
    db.session.expire_all()
    assert order.status == S.REQUESTED


def test_cancel_without_a_reason_is_refused(browser, db, me, service):
    order = make_order(me, service)
    response = browser.post(f"/client/orders/{order.id}/cancel", data={"csrf_token": browser.token, "reason": " "})
    assert response.status_code == 422
    assert field_errors(response.text, "reason") == ["Say why the order is cancelled."]
    db.session.expire_all()
    assert order.status == S.REQUESTED
    assert db.session.scalar(select(func.count()).where(Event.type == "order.cancelled")) == 0


def test_cancel_a_completed_order_is_a_clear_409(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.COMPLETED)
    response = browser.post(f"/client/orders/{order.id}/cancel", data={"csrf_token": browser.token, "reason": "late"})
    assert response.status_code == 409
    assert "cannot become cancelled" in response.text
    db.session.expire_all()
    assert order.status == S.COMPLETED


# ---------------------------------------------------------------- rebooking a no-show (US-132)


def test_failed_order_offers_book_again(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.MATCHED)
    orders.fail(order, orders.NO_SHOW_REASON)
    html = browser.get(f"/client/orders/{order.id}").text
    assert f'href="/client/orders/{order.id}/rebook"' in html
    assert "Failed: the worker did not come" in html


def test_rebook_asks_only_for_a_date_and_time_us132(app, browser, db, me, service, worker):
    order = make_order(me, service, worker, S.MATCHED, address="5 Copy Lane", description="Wash the cat bed")
    orders.fail(order, orders.NO_SHOW_REASON)
    with app.test_request_context():
        from flask import url_for

        assert url_for("clients.rebook_order", order_id=order.id) == f"/client/orders/{order.id}/rebook"
    html = browser.get(f"/client/orders/{order.id}/rebook").text
    assert "5 Copy Lane" in html and "Wash the cat bed" in html  # shown read-only
    assert 'name="day"' in html and 'name="start"' in html
    assert 'name="description"' not in html and 'name="address"' not in html and 'name="service_type"' not in html

    response = browser.post(
        f"/client/orders/{order.id}/rebook", data={"csrf_token": browser.token, "day": slot_day(3), "start": "14:00"}
    )
    assert response.status_code == 303
    copy = db.session.scalar(select(Order).where(Order.rebooked_from_id == order.id))
    assert response.headers["Location"] == f"/client/orders/{copy.id}"
    assert (copy.description, copy.address, copy.service_type_id) == ("Wash the cat bed", "5 Copy Lane", service.id)
    assert copy.slot_start == SLOT + timedelta(days=2, hours=4)
    assert copy.status == S.REQUESTED
    db.session.expire_all()
    assert order.status == S.FAILED  # the failed order keeps its history

    again = browser.post(
        f"/client/orders/{order.id}/rebook", data={"csrf_token": browser.token, "day": slot_day(4), "start": "10:00"}
    )
    assert again.status_code == 409
    assert "already booked again as" in again.text and f"order #{copy.id}" in again.text
    assert db.session.scalar(select(func.count()).where(Order.rebooked_from_id == order.id)) == 1
    assert "already booked again as" in browser.get(f"/client/orders/{order.id}/rebook").text


def test_rebook_validates_the_new_slot(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.FAILED)
    response = browser.post(
        f"/client/orders/{order.id}/rebook", data={"csrf_token": browser.token, "day": slot_day(1), "start": "06:00"}
    )
    assert response.status_code == 422
    assert "between 08:00 and 20:00" in field_errors(response.text, "start")[0]
    assert db.session.scalar(select(func.count()).where(Order.rebooked_from_id == order.id)) == 0


def test_rebook_of_an_order_that_did_not_fail(browser, db, me, service):
    order = make_order(me, service)
    response = browser.get(f"/client/orders/{order.id}/rebook")
    assert response.status_code == 303 and response.headers["Location"] == f"/client/orders/{order.id}"
    assert "Only a failed order can be booked again" in browser.get(response.headers["Location"]).text


def test_the_order_page_refreshes_itself_while_active_and_stops_when_ended(browser, db, me, service, worker):
    order = make_order(me, service, worker, S.MATCHED)
    page = browser.get(f"/client/orders/{order.id}").text
    assert 'id="order-live"' in page and 'hx-trigger="every 10s"' in page
    headers = {"HX-Request": "true", "HX-Target": "order-live"}
    fragment = browser.get(f"/client/orders/{order.id}", headers=headers).text
    assert "<html" not in fragment and 'id="order-live"' in fragment and "Cancel this order" not in fragment
    assert "hx-trigger" in fragment
    orders.issue_kit(order)
    orders.start(order, worker, "checkin/missing.jpg")
    orders.complete(order, worker, "reports/missing.jpg")
    ended = browser.get(f"/client/orders/{order.id}", headers=headers).text
    assert "Completed" in ended and "hx-trigger" not in ended, "polling stops once nothing can change"


def test_us020_on_a_chosen_day_only_times_with_a_free_capable_worker_are_offered(browser, db, me, service, worker):
    headers = {"HX-Request": "true"}
    day = SLOT.date().isoformat()
    url = f"/client/orders/times?service_type={service.id}&day={day}"
    before = re.findall(r'value="(\d\d:\d\d)"', browser.get(url, headers=headers).text)
    assert "10:00" in before and "09:00" in before
    make_order(me, service, worker, S.MATCHED)  # the only worker is busy 10:00-12:00 that day
    after = re.findall(r'value="(\d\d:\d\d)"', browser.get(url, headers=headers).text)
    # A 120-minute job starting 08:30 to 11:30 would overlap; 08:00 ends as it starts; 12:00 is free again.
    assert "08:00" in after and "12:00" in after
    assert not {"08:30", "09:00", "10:00", "11:30"} & set(after)
    sunday = browser.get(f"/client/orders/times?service_type={service.id}&day={slot_day(6)}", headers=headers).text
    assert re.findall(r'value="(\d\d:\d\d)"', sunday) == []


def test_us020_the_form_shows_the_services_description_duration_and_price(browser, db, service):
    described = make_service("Window cleaning", description="Inside and out", duration_minutes=90)
    html = browser.get(f"/client/orders/quote?service_type={described.id}", headers={"HX-Request": "true"}).text
    assert "Inside and out" in html and "1 h 30 min" in html and "100.00" in html
