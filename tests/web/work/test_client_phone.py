"""The worker calls the client from the order page (issue 12, point 9): a `tel:` link with the
normalised number, shown as typed, only on an active order assigned to this worker (checked on the
server: another worker's order is a 404 and the number is on none of their pages)."""

from __future__ import annotations

import pytest

from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.fixtures import login
from tests.support.orders import S, make_order, make_service, nth_slot

TYPED, TEL = "+44 (0)20 7946-0018", "+4402079460018"
LINK = f'href="tel:{TEL}"'


@pytest.fixture
def carla(db):
    carla = ClientFactory(name="Carla Customer")
    carla.client_profile.phone, carla.client_profile.phone_tel = TYPED, TEL
    db.session.flush()
    return carla


@pytest.fixture
def me(db):
    return WorkerFactory(name="Whiskers")


@pytest.fixture
def service(db):
    return make_service()


@pytest.mark.parametrize("status", [S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS])
def test_the_assigned_worker_gets_the_clients_phone_as_a_tel_link(client, db, me, carla, service, status):
    order = make_order(carla, service, me, status, slot=nth_slot(0))
    login(client, me)
    html = client.get(f"/work/orders/{order.id}").text
    assert f'<a class="button big" {LINK}>Call {TYPED}</a>' in html


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.FAILED])
def test_an_ended_order_keeps_the_clients_phone_to_itself(client, db, me, carla, service, status):
    order = make_order(carla, service, me, status, slot=nth_slot(0))
    login(client, me)
    response = client.get(f"/work/orders/{order.id}")
    assert response.status_code == 200 and "Carla Customer" in response.text
    assert "tel:" not in response.text and TYPED not in response.text


def test_a_client_without_a_phone_gives_no_link(client, db, me, service):
    order = make_order(ClientFactory(), service, me, S.MATCHED, slot=nth_slot(0))
    login(client, me)
    html = client.get(f"/work/orders/{order.id}").text
    assert "tel:" not in html and "Call " not in html


def test_another_workers_order_and_its_phone_stay_hidden(client, db, me, carla, service):
    rival = WorkerFactory(name="Tom")
    theirs = make_order(carla, service, rival, S.KIT_ISSUED, slot=nth_slot(0))
    login(client, me)
    assert client.get(f"/work/orders/{theirs.id}").status_code == 404
    for url in ("/work/", "/work/?tab=completed", "/work/?tab=closed"):
        assert TEL not in client.get(url).text and TYPED not in client.get(url).text
    # The assigned worker does see it: the 404 above is about ownership, not the phone.
    login(client, rival)
    assert LINK in client.get(f"/work/orders/{theirs.id}").text
