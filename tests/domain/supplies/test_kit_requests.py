"""The supplies consumer (US-150, US-160, US-170): one kit and one cookie request per order, the
department's mail on match, reassignment and cancellation, through real RQ delivery."""

from __future__ import annotations

from sqlalchemy import func, select

from app.events.models import Event
from app.notifications.models import OutboxEmail
from app.orders import services as orders
from app.supplies.consumers import kit_needed
from app.supplies.models import CookieRequest, Kit
from tests.support.factories import SupplyFactory, WorkerFactory
from tests.support.supplies import deliver_through_rq, matched_order, outbox_rows, templates_to
from tests.support.web import config_values

CONTRACTOR = "orders@fortune-cookies.example"


def count(db, model, order_id) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(model.order_id == order_id))


def test_us150_match_creates_one_kit_and_one_cookie_request_and_tells_the_department(
    app, db, client_user, worker, service, supply_user
):
    away = SupplyFactory(active=False)
    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    assert count(db, Kit, order.id) == 1
    cookie = db.session.get(CookieRequest, order.id)
    assert (cookie.channel, cookie.status, cookie.attempts) == ("email", "sent", 1)

    [mail] = outbox_rows(supply_user.email)
    assert mail.template == "kit_needed"
    assert f"order #{order.id}" in mail.subject and worker.name in mail.subject
    for expected in (worker.name, client_user.name, "sponge", "soap", "rubber gloves", f"/supply/orders/{order.id}"):
        assert expected in mail.body_text
    assert f"/supply/orders/{order.id}" in mail.body_html
    assert outbox_rows(away.email) == [], "only active people of the department are mailed"


def test_us170_contractor_gets_the_clients_details_once(app, db, client_user, worker, service, supply_user):
    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    [mail] = outbox_rows(CONTRACTOR)
    assert mail.template == "cookie_request"
    assert mail.idempotency_key == f"cookie:order:{order.id}"
    for expected in (client_user.name, order.address, f"#{order.id}", order.slot_start.strftime("%d %b %Y, %H:%M")):
        assert expected in mail.body_text


def test_us170_duplicate_delivery_changes_nothing(app, db, client_user, worker, service, supply_user):
    """Delivered twice, and the handler run again as if its bookkeeping were lost: still one of each."""
    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))
    deliver_through_rq(app, order.id, consumers=("supplies",))
    matched = db.session.scalar(select(Event).where(Event.type == "order.matched", Event.aggregate_id == str(order.id)))
    kit_needed(matched)
    kit_needed(matched)
    db.session.flush()

    assert count(db, Kit, order.id) == 1
    assert count(db, CookieRequest, order.id) == 1
    assert templates_to(CONTRACTOR) == ["cookie_request"]
    assert templates_to(supply_user.email) == ["kit_needed"]


def test_us170_reassignment_sends_no_second_cookie_request_and_tells_the_department(
    app, db, client_user, worker, service, supply_user
):
    other = WorkerFactory(name="Tom")
    manager = SupplyFactory()  # any actor; reassign records who did it
    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))
    orders.reassign(order, other, "Whiskers is ill", manager)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    assert count(db, Kit, order.id) == 1
    assert templates_to(CONTRACTOR) == ["cookie_request"]
    assert templates_to(supply_user.email) == ["kit_needed", "kit_reassigned"]
    reassigned = outbox_rows(supply_user.email)[-1]
    assert "Tom" in reassigned.subject
    assert "instead of Whiskers" in reassigned.body_text


def test_us150_cancelled_before_issue_the_kit_is_no_longer_needed(app, db, client_user, worker, service, supply_user):
    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))
    orders.cancel(order, client_user, "Changed my mind")
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    assert templates_to(supply_user.email) == ["kit_needed", "kit_cancelled"]
    assert "no longer needed" in outbox_rows(supply_user.email)[-1].body_text


def test_us150_failed_after_issue_sends_nothing_more(app, db, client_user, worker, service, supply_user):
    from app.supplies import services as supplies

    order = matched_order(client_user, service, worker)
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))
    supplies.issue(order, supply_user, confirm_without_cookie=True)
    orders.fail(order, "Flooded street")
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    assert templates_to(supply_user.email) == ["kit_needed"]


def test_us170_webhook_mode_sends_no_contractor_mail(app, db, client_user, worker, service, supply_user):
    with config_values(app, COOKIE_CONTRACTOR_WEBHOOK_URL="http://127.0.0.1:9/never"):
        order = matched_order(client_user, service, worker)
        db.session.commit()
        deliver_through_rq(app, order.id, consumers=("supplies",))
    cookie = db.session.get(CookieRequest, order.id)
    assert (cookie.channel, cookie.status) == ("webhook", "pending")
    assert db.session.scalar(select(func.count()).where(OutboxEmail.recipient == CONTRACTOR)) == 0


def test_us170_match_delivered_after_the_order_ended_requests_nothing(
    app, db, client_user, worker, service, supply_user
):
    order = matched_order(client_user, service, worker)
    orders.cancel(order, client_user, "Changed my mind")
    db.session.commit()
    deliver_through_rq(app, order.id, consumers=("supplies",))

    assert count(db, Kit, order.id) == 0
    assert count(db, CookieRequest, order.id) == 0
    assert outbox_rows() == []
