"""A kit the department never issued (US-150, US-160) is the company's doing, not the worker's:
the managers and the department are warned before the slot; if the order still fails, the cause is
recorded, the worker is not fined and the client not charged (US-240, docs/decisions.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.billing.models import TransactionKind
from app.billing.postings import post_order_outcome
from app.events.models import Event
from app.orders import services as orders
from app.orders.models import OrderStatus
from app.supplies import services as supplies
from app.supplies.models import Kit
from tests.support.factories import ClientFactory, ManagerFactory, SupplyFactory, WorkerFactory
from tests.support.ledger import last_event, transactions_of
from tests.support.supplies import make_service, matched_order


@pytest.fixture
def order(db):
    SupplyFactory(), ManagerFactory()
    order = matched_order(ClientFactory(), make_service(), WorkerFactory())
    supplies.request_kit(order)
    supplies.request_cookie(order)
    return order


def late_events(order) -> list[Event]:
    return Event.query.filter_by(type="kit.late", aggregate_id=str(order.id)).all()


def test_the_department_and_managers_are_warned_once_when_the_slot_nears(order, app, db):
    warning = timedelta(minutes=app.config["KIT_LATE_WARNING_MINUTES"])
    assert supplies.warn_late_kits(now=order.slot_start - warning - timedelta(minutes=1)) == []
    assert supplies.warn_late_kits(now=order.slot_start - warning) == [order.id]
    assert supplies.warn_late_kits(now=order.slot_start - warning + timedelta(minutes=5)) == []  # once
    [event] = late_events(order)
    assert event.payload["minutes_left"] == warning.total_seconds() // 60
    assert db.session.get(Kit, order.id).late_warning_sent_at is not None


def test_an_issued_kit_or_a_past_slot_is_not_warned_about(order, db):
    supply = SupplyFactory()
    supplies.mark_cookie_received(order, supply)
    supplies.issue(order, supply)
    assert supplies.warn_late_kits(now=order.slot_start - timedelta(minutes=10)) == []
    other = matched_order(ClientFactory(), make_service("Windows"), WorkerFactory())
    supplies.request_kit(other)
    supplies.request_cookie(other)
    assert supplies.warn_late_kits(now=other.slot_start + timedelta(minutes=1)) == []


def test_the_warning_mails_the_department_and_every_manager(order, db):
    from app.notifications.models import OutboxEmail
    from app.supplies.consumers import kit_late

    supplies.warn_late_kits(now=order.slot_start - timedelta(minutes=30))
    kit_late(late_events(order)[0])
    recipients = {row.recipient for row in OutboxEmail.query.filter_by(template="kit_late")}
    expected = {person.email for person in supplies.supply_recipients() + supplies.manager_recipients()}
    assert recipients == expected and len(expected) >= 2
    mail = OutboxEmail.query.filter_by(template="kit_late").first()
    assert f"#{order.id}" in mail.subject and "30 minutes" in mail.body_text


def test_a_failure_without_the_kit_records_its_cause_and_costs_nobody_anything(order, app):
    grace = timedelta(minutes=app.config["NO_SHOW_GRACE_MINUTES"])
    assert orders.fail_no_show(order.id, now=order.slot_start + grace)
    assert (order.status, order.finish_reason) == (OrderStatus.FAILED, orders.KIT_NOT_ISSUED_REASON)
    event = last_event(order)
    assert event.payload["reason"] == "kit_not_issued"
    post_order_outcome(event)
    assert transactions_of(order) == {}, "no charge to the client, no fine to the worker"


def test_a_real_no_show_still_fines_the_worker_and_charges_the_client(order, app):
    supply = SupplyFactory()
    supplies.mark_cookie_received(order, supply)
    supplies.issue(order, supply)
    grace = timedelta(minutes=app.config["NO_SHOW_GRACE_MINUTES"])
    assert orders.fail_no_show(order.id, now=order.slot_start + grace)
    assert order.finish_reason == orders.NO_SHOW_REASON
    post_order_outcome(last_event(order))
    assert set(transactions_of(order)) == {TransactionKind.CHARGE, TransactionKind.FINE}
