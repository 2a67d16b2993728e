"""The worker's pages (US-140, US-180): tabs with counts, the order page, confirm, check-in and finish with
photos, photos shown only to the assigned worker, ownership by guessed ids, queries that don't grow."""

from __future__ import annotations

from io import BytesIO

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.orders import services as orders
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.images import png_bytes
from tests.support.orders import S, make_order, make_service, nth_slot
from tests.support.web import count_statements, field_errors


@pytest.fixture
def service(db):
    return make_service(consumables="sponge\nsoap\nfortune cookie")


@pytest.fixture
def customer(db):
    return ClientFactory(name="Carla Customer")


@pytest.fixture
def me(db):
    return WorkerFactory(name="Whiskers")


@pytest.fixture
def rival(db):
    return WorkerFactory(name="Tom")


@pytest.fixture
def phone(client, me):
    login(client, me)
    client.token = csrf_token(client, "/work/")
    return client


def photo(data: bytes | None = None, name: str = "photo.png"):
    return (BytesIO(png_bytes() if data is None else data), name)


def events(db, order, event_type) -> int:
    return db.session.scalar(select(func.count()).where(Event.aggregate_id == str(order.id), Event.type == event_type))


# ---------------------------------------------------------------- my orders (US-140)


def test_tabs_show_active_completed_and_cancelled_or_failed_with_counts_us140(phone, db, me, rival, customer, service):
    active = [
        make_order(customer, service, me, S.MATCHED, slot=nth_slot(1)),
        make_order(customer, service, me, S.KIT_ISSUED, slot=nth_slot(0)),
    ]
    done = make_order(customer, service, me, S.COMPLETED, slot=nth_slot(2))
    cancelled = make_order(customer, service, me, S.CANCELLED, slot=nth_slot(3))
    failed = make_order(customer, service, me, S.FAILED, slot=nth_slot(4))
    theirs = make_order(customer, service, rival, S.MATCHED, slot=nth_slot(5))

    html = phone.get("/work/").text
    assert 'Active <span class="count">2</span>' in html
    assert 'Completed <span class="count">1</span>' in html
    assert 'Cancelled or failed <span class="count">2</span>' in html
    assert html.index(f"#{active[1].id}<") < html.index(f"#{active[0].id}<")  # soonest first
    assert f"#{done.id}<" not in html and f"#{theirs.id}<" not in html
    assert "Please confirm" in html and "Carla Customer" in html

    completed = phone.get("/work/?tab=completed").text
    assert f"#{done.id}<" in completed and f"#{active[0].id}<" not in completed
    closed = phone.get("/work/?tab=closed").text
    assert f"#{cancelled.id}<" in closed and f"#{failed.id}<" in closed and f"#{theirs.id}<" not in closed
    assert phone.get("/work/?tab=bogus").status_code == 200


def test_empty_tabs(phone):
    assert "No orders are assigned to you right now" in phone.get("/work/").text
    assert "No completed orders yet" in phone.get("/work/?tab=completed").text


def _list_queries(client, db, worker, n: int) -> int:
    """Each order has its own client and service, so lazy loading would cost a query per row."""
    statuses = [S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS]
    orders = []
    for i in range(n):
        service = make_service(f"Service {worker.id}-{i}")
        orders.append(make_order(ClientFactory(), service, worker, statuses[i % 3], slot=nth_slot(i)))
    db.session.commit()
    with count_statements(db.engine) as counter:
        response = client.get("/work/?per_page=50")
    assert response.status_code == 200
    assert all(f'href="/work/orders/{order.id}"' in response.text for order in orders)
    return counter[0]


def test_worker_list_queries_do_not_grow_with_orders(phone, db, me, new_client):
    """No N+1: the list of 3 and of 30 orders costs the same number of queries."""
    few = _list_queries(phone, db, me, 3)
    other_worker = WorkerFactory()
    other_phone = new_client()
    login(other_phone, other_worker)
    many = _list_queries(other_phone, db, other_worker, 30)
    assert few == many, (few, many)
    # The user and roles, the counts per tab, the page (clients joined, their roles not loaded),
    # the profile; the test's savepoint and its rollback.
    assert many <= 7, many


# ---------------------------------------------------------------- the order page


def test_order_page_shows_where_when_what_and_kit_status(phone, db, me, customer, service):
    order = make_order(customer, service, me, S.MATCHED, description="The sofa, the blue one", address="7 Garden Row")
    html = phone.get(f"/work/orders/{order.id}").text
    for text in (
        "7 Garden Row",
        "Carla Customer",
        "Test cleaning",
        "The sofa, the blue one",
        "fortune cookie",
        "Waiting for the consumables department",
        ">Confirm<",
        "Collect the kit",
    ):
        assert text in html, text
    assert 'capture="environment"' not in html  # no check-in before the kit is issued
    orders.issue_kit(order)
    html = phone.get(f"/work/orders/{order.id}").text
    assert "Ready to collect" in html
    assert 'accept="image/*"' in html and 'capture="environment"' in html and ">Started<" in html


def test_confirm_the_assignment(phone, db, me, customer, service):
    order = make_order(customer, service, me, S.MATCHED)
    response = phone.post(f"/work/orders/{order.id}/confirm", data={"csrf_token": phone.token})
    assert response.status_code == 303 and response.headers["Location"] == f"/work/orders/{order.id}"
    db.session.expire_all()
    assert order.confirmed_at is not None and events(db, order, "order.confirmed") == 1
    html = phone.get(f"/work/orders/{order.id}").text
    assert "The client has been told" in html and ">Confirm<" not in html

    again = phone.post(f"/work/orders/{order.id}/confirm", data={"csrf_token": phone.token})
    assert again.status_code == 409 and "already confirmed" in again.text
    assert events(db, order, "order.confirmed") == 1


def test_check_in_with_a_photo_then_finish_with_the_report_us180(phone, db, me, customer, service, uploads):
    order = make_order(customer, service, me, S.KIT_ISSUED)
    response = phone.post(
        f"/work/orders/{order.id}/start",
        data={"csrf_token": phone.token, "photo": photo()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert order.status == S.IN_PROGRESS and order.checkin_photo.startswith("checkin/")
    assert (uploads / order.checkin_photo).is_file()
    html = phone.get(f"/work/orders/{order.id}").text
    assert "Collected" in html and ">Finished<" in html and f"/work/orders/{order.id}/photos/checkin" in html
    shown = phone.get(f"/work/orders/{order.id}/photos/checkin")
    assert shown.status_code == 200 and shown.mimetype == "image/png"

    response = phone.post(
        f"/work/orders/{order.id}/complete",
        data={"csrf_token": phone.token, "photo": photo(name="report.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert order.status == S.COMPLETED and order.report_photo.startswith("reports/")
    assert phone.get(f"/work/orders/{order.id}/photos/report").status_code == 200
    assert f"#{order.id}<" in phone.get("/work/?tab=completed").text


@pytest.mark.parametrize("step", ["start", "complete"])
def test_a_file_that_is_not_a_photo_is_refused_next_to_the_field(phone, db, me, customer, service, uploads, step):
    order = make_order(customer, service, me, S.KIT_ISSUED if step == "start" else S.IN_PROGRESS)
    before = order.status
    response = phone.post(
        f"/work/orders/{order.id}/{step}",
        data={"csrf_token": phone.token, "photo": photo(b"%PDF-1.4 not an image", "report.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert field_errors(response.text, "photo") == ["This file is not a photo we can read."]
    db.session.expire_all()
    assert order.status == before
    assert not uploads.exists() or not any(uploads.rglob("*.*"))


def test_no_photo_chosen_is_refused(phone, db, me, customer, service, uploads):
    order = make_order(customer, service, me, S.KIT_ISSUED)
    response = phone.post(f"/work/orders/{order.id}/start", data={"csrf_token": phone.token})
    assert response.status_code == 422
    assert field_errors(response.text, "photo") == ["Choose a photo."]


def test_check_in_before_the_kit_is_issued_is_refused_and_leaves_no_file(phone, db, me, customer, service, uploads):
    order = make_order(customer, service, me, S.MATCHED)
    response = phone.post(
        f"/work/orders/{order.id}/start",
        data={"csrf_token": phone.token, "photo": photo()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409 and "Collect the kit first" in response.text
    db.session.expire_all()
    assert order.status == S.MATCHED and order.checkin_photo is None
    assert not any(uploads.rglob("*.png"))


# ---------------------------------------------------------------- ownership


def test_another_workers_orders_are_404_whatever_id_is_guessed(phone, db, me, rival, customer, service, uploads):
    """Pages, actions and photos of an order assigned to someone else, unassigned or not existing."""
    theirs = make_order(customer, service, rival, S.KIT_ISSUED)
    orders.start(theirs, rival, "checkin/theirs.png")
    unassigned = make_order(customer, service)
    mine = make_order(customer, service, me, S.MATCHED)
    for order_id in (theirs.id, unassigned.id, mine.id + 1000, 0):
        assert phone.get(f"/work/orders/{order_id}").status_code == 404
        for kind in ("checkin", "report"):
            assert phone.get(f"/work/orders/{order_id}/photos/{kind}").status_code == 404
        assert phone.post(f"/work/orders/{order_id}/confirm", data={"csrf_token": phone.token}).status_code == 404
        for step in ("start", "complete"):
            response = phone.post(
                f"/work/orders/{order_id}/{step}",
                data={"csrf_token": phone.token, "photo": photo()},
                content_type="multipart/form-data",
            )
            assert response.status_code == 404
    db.session.expire_all()
    assert (theirs.status, theirs.confirmed_at, unassigned.status) == (S.IN_PROGRESS, None, S.REQUESTED)
    assert not any(uploads.rglob("*.png"))


def test_a_reassigned_order_leaves_the_previous_worker(phone, db, me, rival, customer, service):
    order = make_order(customer, service, me, S.MATCHED)
    assert phone.get(f"/work/orders/{order.id}").status_code == 200
    orders.reassign(order, rival, "Whiskers is ill", ManagerFactory())
    assert phone.get(f"/work/orders/{order.id}").status_code == 404
    assert f"#{order.id}<" not in phone.get("/work/").text


def test_the_client_sees_the_workers_photos_but_other_clients_do_not(
    phone, db, me, customer, service, uploads, new_client
):
    order = make_order(customer, service, me, S.KIT_ISSUED)
    phone.post(
        f"/work/orders/{order.id}/start",
        data={"csrf_token": phone.token, "photo": photo()},
        content_type="multipart/form-data",
    )
    owner = new_client()
    login(owner, customer)
    assert owner.get(f"/client/orders/{order.id}/photos/checkin").status_code == 200
    assert owner.get(f"/work/orders/{order.id}/photos/checkin").status_code == 403  # not a worker
    stranger = new_client()
    login(stranger, ClientFactory())
    assert stranger.get(f"/client/orders/{order.id}/photos/checkin").status_code == 404
