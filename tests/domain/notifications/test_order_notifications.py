"""Order notifications (US-302, US-303, US-306, US-131): orders driven through the services, their
events delivered through real RQ (events, then emails), and each recipient's outbox compared with
the mail they should get, in their sequence order."""

from __future__ import annotations

import pytest

from app.notifications.models import EmailStatus
from app.orders import services as orders
from app.supplies import services as supplies
from tests.support.factories import ClientFactory, ManagerFactory, SupplyFactory, WorkerFactory
from tests.support.supplies import deliver_through_rq, make_service, matched_order, outbox_rows, requested_order

CONTRACTOR = "orders@fortune-cookies.example"


@pytest.fixture
def people(committed_db):
    people = {
        "client": ClientFactory(name="Clara Client"),
        "worker": WorkerFactory(name="Whiskers"),
        "other": WorkerFactory(name="Tom"),
        "supply": SupplyFactory(name="Sam Supply"),
        "manager": ManagerFactory(),
        "service": make_service(),
    }
    people["other"].worker_profile.breed = "Maine Coon"
    people["other"].worker_profile.coat_colour = "ginger"
    committed_db.session.commit()
    return people


@pytest.fixture
def step(app, committed_db):
    """Commit what the test did to the order, then deliver its events through RQ."""

    def run(order) -> None:
        committed_db.session.commit()
        deliver_through_rq(app, order.id)

    return run


def mail_of(person) -> list[str]:
    from app.extensions import db

    db.session.rollback()  # a fresh snapshot: the jobs committed in their own sessions
    rows = outbox_rows(person if isinstance(person, str) else person.email)
    assert all(row.status == EmailStatus.SENT for row in rows), [(row.template, row.last_error) for row in rows]
    sequences = [row.sequence for row in rows]
    assert sequences == sorted(set(sequences))
    return [row.template for row in rows]


def last_mail(person):
    return outbox_rows(person.email)[-1]


def test_us302_us303_us306_a_whole_order(app, people, step):
    client, worker, supply_user = people["client"], people["worker"], people["supply"]
    order = requested_order(client, people["service"], description="Brush the dog")
    step(order)
    orders.assign_worker(order, worker)
    step(order)

    where_when_what = last_mail(worker)
    assert where_when_what.template == "order_matched_worker"
    for expected in (order.address, order.slot_start.strftime("%d %b %Y, %H:%M"), "Deep cleaning", "Brush the dog"):
        assert expected in where_when_what.body_text, expected
    assert "Clara Client" in where_when_what.body_text
    who = last_mail(client)
    assert who.template == "order_matched_client"
    assert "Whiskers (Tabby, grey)" in who.body_text and "Whiskers" in who.subject

    orders.confirm(order, worker)
    step(order)
    supplies.mark_cookie_received(order, supply_user)
    supplies.issue(order, supply_user)
    step(order)
    assert "collect" in last_mail(worker).body_text
    orders.start(order, worker, "checkin/a.jpg")
    step(order)
    orders.complete(order, worker, "report/a.jpg")
    step(order)

    assert mail_of(client) == [
        "order_requested",
        "order_matched_client",
        "order_confirmed",
        "order_kit_issued",
        "order_started",
        "order_completed",
    ]
    assert mail_of(worker) == ["order_matched_worker", "kit_ready"]
    assert mail_of(supply_user) == ["kit_needed"]
    assert mail_of(CONTRACTOR) == ["cookie_request"]
    assert mail_of(people["other"]) == []


def test_us302_cancelled_after_matching(app, people, step):
    client, worker, supply_user = people["client"], people["worker"], people["supply"]
    order = requested_order(client, people["service"])
    step(order)
    orders.assign_worker(order, worker)
    step(order)
    orders.cancel(order, people["manager"], "The client is moving")
    step(order)

    assert mail_of(client) == ["order_requested", "order_matched_client", "order_cancelled_client"]
    assert "The client is moving" in last_mail(client).body_text
    assert mail_of(worker) == ["order_matched_worker", "order_cancelled_worker"]
    assert "don't need to go" in last_mail(worker).body_text
    assert mail_of(supply_user) == ["kit_needed", "kit_cancelled"]


def test_us302_cancelled_before_matching_tells_only_the_client(app, people, step):
    order = requested_order(people["client"], people["service"])
    step(order)
    orders.cancel(order, people["client"], "Wrong date")
    step(order)

    assert mail_of(people["client"]) == ["order_requested", "order_cancelled_client"]
    assert mail_of(people["worker"]) == []
    assert mail_of(people["supply"]) == []
    assert mail_of(CONTRACTOR) == []


def test_us306_reassigned(app, people, step):
    client, worker, other, supply_user = people["client"], people["worker"], people["other"], people["supply"]
    order = requested_order(client, people["service"])
    step(order)
    orders.assign_worker(order, worker)
    step(order)
    orders.reassign(order, other, "Whiskers is ill", people["manager"])
    step(order)
    supplies.issue(order, supply_user, confirm_without_cookie=True)
    step(order)

    assert mail_of(client) == ["order_requested", "order_matched_client", "order_reassigned_client", "order_kit_issued"]
    assert "Tom (Maine Coon, ginger)" in outbox_rows(client.email)[2].body_text
    assert mail_of(worker) == ["order_matched_worker", "order_released_worker"]
    assert "no longer needed" in last_mail(worker).body_text
    assert mail_of(other) == ["order_reassigned_worker", "kit_ready"]
    new_worker_mail = outbox_rows(other.email)[0]
    assert order.address in new_worker_mail.body_text and "Clean the sofa" in new_worker_mail.body_text
    assert mail_of(supply_user) == ["kit_needed", "kit_reassigned"]
    assert mail_of(CONTRACTOR) == ["cookie_request"], "a reassignment sends no second cookie request"


def test_us131_no_show_failure_mails_the_rebooking_link(app, people, step):
    from datetime import timedelta

    client, worker = people["client"], people["worker"]
    order = matched_order(client, people["service"], worker)
    step(order)
    assert orders.fail_no_show(order.id, now=order.slot_start + timedelta(minutes=31))
    step(order)

    assert mail_of(client) == ["order_requested", "order_matched_client", "order_failed"]
    failed = last_mail(client)
    link = f"http://127.0.0.1:5000/client/orders/{order.id}/rebook"
    assert link in failed.body_text and f'href="{link}"' in failed.body_html
    assert "book" in failed.subject.lower()
    # The kit was never issued: the failure is the company's; the worker is told, and not fined.
    assert mail_of(worker) == ["order_matched_worker", "order_failed_worker"]
    assert "not fined" in last_mail(worker).body_text
    assert mail_of(people["supply"]) == ["kit_needed", "kit_cancelled"]


def test_us302_a_no_show_worker_is_mailed_the_failure_and_the_fine(app, people, step):
    from datetime import timedelta

    client, worker = people["client"], people["worker"]
    order = matched_order(client, people["service"], worker)
    step(order)  # the supplies consumer requests the kit
    supplies.mark_cookie_received(order, people["supply"])
    supplies.issue(order, people["supply"])
    step(order)
    assert orders.fail_no_show(order.id, now=order.slot_start + timedelta(minutes=31))
    step(order)

    assert mail_of(worker)[-1] == "order_failed_worker"
    mail = last_mail(worker)
    assert "fine of 40.00" in mail.subject and "did not check in" in mail.body_text
    assert "fine of 40.00" in mail.body_text
    assert last_mail(client).template == "order_failed" and "/rebook" in last_mail(client).body_text


def test_us302_other_failures_have_no_rebooking_link(app, people, step):
    order = matched_order(people["client"], people["service"], people["worker"])
    step(order)
    orders.fail(order, "Flooded street", people["manager"])
    step(order)

    failed = last_mail(people["client"])
    assert failed.template == "order_failed"
    assert "Flooded street" in failed.body_text and "/rebook" not in failed.body_text


def test_us302_a_second_delivery_sends_nothing_new(app, people, step):
    """Idempotency keys come from the event id: delivering again adds no mail."""
    order = matched_order(people["client"], people["service"], people["worker"])
    step(order)
    before = {row.idempotency_key for row in outbox_rows()}
    from app.events.models import HandledEvent
    from app.extensions import db

    db.session.query(HandledEvent).delete()  # as if the consumers' bookkeeping were lost
    db.session.commit()
    deliver_through_rq(app, order.id)
    assert {row.idempotency_key for row in outbox_rows()} == before
