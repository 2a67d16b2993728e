"""Orders without limits (issue 11, point 10): a client's order requests are limited per minute and
per day (a 429 page that says when to try again, kept in memory while Redis is down), and a double
submit of one request form makes one order, also when both submits arrive at the same moment."""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from app.config import TestConfig, sqlalchemy_url
from app.orders.models import Order
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.fixtures import csrf_token, isolated_client, login
from tests.support.orders import S, make_order, make_service, slot_day
from tests.support.web import config_values

TOKEN_IN_FORM = re.compile(
    r'name="request_token" type="hidden" value="([^"]+)"|type="hidden" name="request_token" value="([^"]+)"'
)


@pytest.fixture
def service(db):
    return make_service()


@pytest.fixture
def me(db):
    return ClientFactory(name="Alice Client")


def signed_in(client, user):
    login(client, user)
    client.token = csrf_token(client, "/client/")
    return client


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


def request_token(browser) -> str:
    html = browser.get("/client/orders/new").get_data(as_text=True)
    match = TOKEN_IN_FORM.search(html)
    assert match, "the request form carries its idempotency key"
    return match.group(1)


def orders_of(db, client) -> int:
    return db.session.scalar(select(func.count()).select_from(Order).where(Order.client_id == client.id))


# ---------------------------------------------------------------- limits per client


def test_over_the_per_minute_limit_the_client_gets_a_429_saying_when_and_nothing_is_made(
    app, client, new_client, db, me, service
):
    browser = signed_in(client, me)
    with config_values(app, ORDER_LIMIT_PER_MINUTE="3 per minute", ORDER_LIMIT_PER_DAY="100 per day"):
        for _ in range(3):
            assert browser.post("/client/orders/new", data=form_data(browser, service)).status_code == 303
        refused = browser.post("/client/orders/new", data=form_data(browser, service))
        html = refused.get_data(as_text=True)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert "3 per minute" in html and "You can send the next one at" in html and "seconds" in html
        assert "<html" in html  # a page of the site, not a bare error
        assert orders_of(db, me) == 3
        # The limit is the client's own: another client is not refused.
        other = signed_in(new_client(), ClientFactory())
        assert other.post("/client/orders/new", data=form_data(other, service)).status_code == 303
        # Reading pages is not limited.
        assert browser.get("/client/orders/new").status_code == 200


def test_the_per_day_limit_says_hours_and_counts_rebooking_too_us132(app, client, db, me, service):
    browser = signed_in(client, me)
    failed = make_order(me, service, WorkerFactory(), S.FAILED)
    with config_values(app, ORDER_LIMIT_PER_MINUTE="100 per minute", ORDER_LIMIT_PER_DAY="2 per day"):
        assert browser.post("/client/orders/new", data=form_data(browser, service)).status_code == 303
        assert browser.post("/client/orders/new", data=form_data(browser, service)).status_code == 303
        before = orders_of(db, me)
        rebook = browser.post(
            f"/client/orders/{failed.id}/rebook",
            data={"csrf_token": browser.token, "day": slot_day(2), "start": "10:00"},
        )
        assert rebook.status_code == 429
        assert int(rebook.headers["Retry-After"]) > 20 * 3600
        assert "2 per day" in rebook.text and "hours" in rebook.text
        assert orders_of(db, me) == before


def test_with_redis_down_the_limit_goes_on_in_memory(db, database_url, me, service):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url),
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        ORDER_LIMIT_PER_MINUTE="2 per minute",
    )
    browser = signed_in(isolated_client(down), me)
    answers = [browser.post("/client/orders/new", data=form_data(browser, service)).status_code for _ in range(3)]
    assert answers == [303, 303, 429]
    assert orders_of(db, me) == 2


# ---------------------------------------------------------------- one order per form


def test_a_double_submit_of_the_form_makes_one_order_and_lands_on_it_us020(client, db, me, service):
    browser = signed_in(client, me)
    token = request_token(browser)
    first = browser.post("/client/orders/new", data=form_data(browser, service, request_token=token))
    second = browser.post("/client/orders/new", data=form_data(browser, service, request_token=token))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert orders_of(db, me) == 1
    page = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert "You had already sent this request" in page
    # A fresh rendering of the form is a new request.
    third = browser.post("/client/orders/new", data=form_data(browser, service, request_token=request_token(browser)))
    assert third.status_code == 303 and third.headers["Location"] != first.headers["Location"]
    assert orders_of(db, me) == 2


def test_a_rejected_submit_keeps_the_key_so_the_corrected_one_makes_the_order(client, db, me, service):
    browser = signed_in(client, me)
    token = request_token(browser)
    bad = browser.post("/client/orders/new", data=form_data(browser, service, request_token=token, description=" "))
    assert bad.status_code == 422 and token in bad.text
    good = browser.post("/client/orders/new", data=form_data(browser, service, request_token=token))
    assert good.status_code == 303 and orders_of(db, me) == 1


def test_another_clients_key_is_not_theirs(client, new_client, db, me, service):
    browser = signed_in(client, me)
    token = request_token(browser)
    browser.post("/client/orders/new", data=form_data(browser, service, request_token=token))
    other_user = ClientFactory()
    other = signed_in(new_client(), other_user)
    answer = other.post("/client/orders/new", data=form_data(other, service, request_token=token))
    assert answer.status_code == 303
    assert orders_of(db, other_user) == 1  # their own order, not a look at the first client's


def test_a_malformed_key_is_refused_with_a_message(client, db, me, service):
    browser = signed_in(client, me)
    answer = browser.post("/client/orders/new", data=form_data(browser, service, request_token="x'; --"))
    assert answer.status_code == 422 and "Reload the page" in answer.text
    assert orders_of(db, me) == 0


def test_two_submits_at_the_same_moment_make_one_order(app, committed_db, service_committed):
    """Real concurrency: two browsers of one client post the same form at once, each request in its
    own transaction on its own connection; the unique (client, token) key lets one through and sends
    the other to the first order's page."""
    me, service = service_committed
    browsers = [signed_in(isolated_client(app), me) for _ in range(2)]
    token = request_token(browsers[0])
    forms = [form_data(browser, service, request_token=token) for browser in browsers]
    start = threading.Barrier(len(browsers))
    answers: list = [None] * len(browsers)

    def submit(index: int) -> None:
        browser, data = browsers[index], forms[index]
        start.wait()
        answers[index] = browser.post("/client/orders/new", data=data)

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    count = select(func.count()).select_from(Order).where(Order.client_id == me.id)
    assert committed_db.session.scalar(count) == 1


@pytest.fixture
def service_committed(committed_db):
    client_user = ClientFactory(name="Racing Client")
    service = make_service()
    committed_db.session.commit()
    return client_user, service


def test_the_service_decides_a_race_by_the_unique_key(app, committed_db, service_committed):
    """The later insert waits for the earlier transaction and, once that commits, gets its order."""
    from app.accounts.models import User
    from app.extensions import db as database
    from app.orders import services as orders
    from tests.support.orders import SLOT

    me, service = service_committed
    client_id, service_id = me.id, service.id
    token = "t" * 32
    first_flushed, outcome = threading.Event(), {}

    def first() -> None:
        with app.app_context():
            order = orders.request_order(
                database.session.get(User, client_id),
                service_type_id=service_id,
                description="Sofa",
                slot_start=SLOT + timedelta(days=1),
                request_token=token,
            )
            outcome["first"] = order.id
            first_flushed.set()
            threading.Event().wait(0.5)  # the second request is waiting on the key meanwhile
            database.session.commit()

    def second() -> None:
        first_flushed.wait(10)
        with app.app_context():
            try:
                orders.request_order(
                    database.session.get(User, client_id),
                    service_type_id=service_id,
                    description="Sofa",
                    slot_start=SLOT + timedelta(days=1),
                    request_token=token,
                )
                database.session.commit()
                outcome["second"] = "made an order"
            except orders.AlreadyRequested as sent:
                database.session.rollback()
                outcome["second"] = sent.order_id

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["second"] == outcome["first"]
