"""Service tests for the order's life: every transition, legal and illegal (US-020, US-050,
US-130..132, US-180), pricing and the discount tiers (US-040), no-shows with time travel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.events.models import Event
from app.orders import pricing, service_types
from app.orders import services as orders
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.states import EVENT_TYPES, TRANSITIONS, IllegalTransition, move
from app.platform.validation import DuplicateError, ValidationError
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory

S = OrderStatus
# A Monday, well inside working hours (08:00-20:00 UTC, Monday to Saturday).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def service(db):
    return service_types.save_service_type(None, name="Test cleaning", skills="cleaning", consumables="sponge\nsoap")


@pytest.fixture
def client_user(db):
    return ClientFactory()


@pytest.fixture
def worker(db):
    return WorkerFactory()


def events_of(order: Order) -> list[str]:
    from app.extensions import db

    return list(
        db.session.scalars(
            select(Event.type)
            .where(Event.aggregate_type == "order", Event.aggregate_id == str(order.id))
            .order_by(Event.id)
        )
    )


def new_order(client_user, service, slot=SLOT) -> Order:
    return orders.request_order(client_user, service_type_id=service.id, description="Clean the sofa", slot_start=slot)


def order_in(status: S, client_user, service, worker) -> Order:
    """An order walked through the legal path up to `status`."""
    order = new_order(client_user, service)
    path = [S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS, S.COMPLETED]
    if status == S.REQUESTED:
        return order
    if status in (S.CANCELLED, S.FAILED):
        move(order, status, reason="test")
        return order
    for step in path:
        if step == S.MATCHED:
            orders.assign_worker(order, worker)
        elif step == S.KIT_ISSUED:
            orders.issue_kit(order)
        elif step == S.IN_PROGRESS:
            orders.start(order, worker, "checkin/x.jpg")
        elif step == S.COMPLETED:
            orders.complete(order, worker, "reports/x.jpg")
        if step == status:
            return order
    raise AssertionError(status)


# ---------------------------------------------------------------- requesting (US-020)


def test_request_creates_order_and_publishes_requested(at_now, client_user, service):
    order = new_order(client_user, service)
    assert order.status == S.REQUESTED
    assert order.address == "1 Test Street"  # the client's address by default
    assert order.slot_end - order.slot_start == timedelta(minutes=service.duration_minutes)
    assert order.price_cents is None  # fixed when matched (US-050)
    assert events_of(order) == ["order.requested"]


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        (NOW - timedelta(hours=1), "future"),
        (datetime(2026, 11, 24, 6, 0, tzinfo=UTC), "between 08:00 and 20:00"),
        (datetime(2026, 11, 24, 19, 0, tzinfo=UTC), "between 08:00 and 20:00"),  # would end after closing
        (datetime(2026, 11, 29, 10, 0, tzinfo=UTC), "day"),  # a Sunday
        (datetime(2026, 11, 24, 10, 10, tzinfo=UTC), "grid"),
        (NOW + timedelta(days=400), "within the next"),
    ],
)
def test_request_refuses_bad_slots(at_now, client_user, service, slot, message):
    with pytest.raises(ValidationError) as refused:
        new_order(client_user, service, slot)
    assert message in refused.value.errors["slot"][0]


def test_request_refuses_missing_fields_and_retired_services(at_now, db, client_user, service):
    service_types.retire_service_type(service)
    with pytest.raises(ValidationError) as refused:
        orders.request_order(client_user, service_type_id=service.id, description=" ", slot_start=None, address="")
    assert set(refused.value.errors) >= {"service_type", "description", "slot"}
    assert db.session.scalar(select(Order).where(Order.client_id == client_user.id)) is None


def test_company_timezone_moves_working_hours(at_now, app, client_user, service):
    app.config["COMPANY_TIMEZONE"] = "Asia/Tokyo"  # UTC+9: 10:00 UTC is 19:00 there
    try:
        with pytest.raises(ValidationError):
            new_order(client_user, service, SLOT)
        order = new_order(client_user, service, datetime(2026, 11, 24, 1, 0, tzinfo=UTC))  # 10:00 in Tokyo
        assert order.status == S.REQUESTED
    finally:
        app.config["COMPANY_TIMEZONE"] = "UTC"


def test_duplicate_service_type_names_are_refused(db, service):
    with pytest.raises(DuplicateError):
        service_types.save_service_type(None, name="TEST CLEANING")


# ---------------------------------------------------------------- the status machine


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_transition_is_legal_or_refused(at_now, client_user, service, worker, source, target):
    order = order_in(source, client_user, service, worker)
    before = events_of(order)
    if target in TRANSITIONS[source]:
        move(order, target, reason="test")
        assert order.status == target
        assert events_of(order)[-1] == EVENT_TYPES[target]
    else:
        with pytest.raises(IllegalTransition) as refused:
            move(order, target)
        assert "cannot become" in refused.value.errors["status"][0]
        assert order.status == source
        assert events_of(order) == before


def test_matching_fixes_price_with_the_discount_of_that_moment(at_now, monkeypatch, client_user, service, worker):
    order = new_order(client_user, service)
    monkeypatch.setattr(pricing, "paid_total_cents", lambda client_id: 25_000_00)  # 6% tier
    orders.assign_worker(order, worker)
    assert (order.base_price_cents, order.discount_percent, order.price_cents) == (100_00, 6, 94_00)
    event = Event.query.filter_by(type="order.matched", aggregate_id=str(order.id)).one()
    assert event.payload["price_cents"] == 94_00 and event.payload["worker_id"] == worker.id
    with pytest.raises(IllegalTransition):
        orders.assign_worker(order, worker)


def test_event_payload_is_the_documented_contract(at_now, client_user, service, worker):
    order = order_in(S.COMPLETED, client_user, service, worker)
    payload = Event.query.filter_by(type="order.completed", aggregate_id=str(order.id)).one().payload
    assert set(payload) >= {
        "order_id", "status", "client_id", "worker_id", "service_type_id", "service", "price_cents",
        "base_price_cents", "discount_percent", "slot_start", "slot_end", "rebooked_from_id", "at",
    }  # fmt: skip
    assert payload["status"] == "completed" and payload["price_cents"] == 100_00


def test_worker_steps_only_for_the_assigned_worker(at_now, client_user, service, worker):
    order = order_in(S.MATCHED, client_user, service, worker)
    stranger = WorkerFactory()
    with pytest.raises(IllegalTransition):
        orders.confirm(order, stranger)
    with pytest.raises(IllegalTransition, match="kit"):
        orders.start(order, worker, "checkin/a.jpg")  # kit not issued yet
    orders.confirm(order, worker)
    assert order.confirmed_at is not None
    with pytest.raises(IllegalTransition, match="already"):
        orders.confirm(order, worker)
    orders.issue_kit(order)
    with pytest.raises(IllegalTransition):
        orders.start(order, stranger, "checkin/a.jpg")
    orders.start(order, worker, "checkin/a.jpg")
    orders.complete(order, worker, "reports/a.jpg")
    assert (order.status, order.checkin_photo, order.report_photo) == (S.COMPLETED, "checkin/a.jpg", "reports/a.jpg")
    assert "order.confirmed" in events_of(order)
    assert events_of(order)[-2:] == ["order.started", "order.completed"]


def test_cancel_needs_a_reason_and_the_right_person(at_now, client_user, service, worker):
    order = order_in(S.MATCHED, client_user, service, worker)
    with pytest.raises(ValidationError) as refused:
        orders.cancel(order, client_user, "  ")
    assert refused.value.errors["reason"]
    with pytest.raises(IllegalTransition):
        orders.cancel(order, ClientFactory(), "not mine")
    orders.cancel(order, client_user, "Changed my plans")
    assert (order.status, order.finish_reason, order.finished_by_id) == (
        S.CANCELLED,
        "Changed my plans",
        client_user.id,
    )
    done = order_in(S.COMPLETED, client_user, service, worker)
    with pytest.raises(IllegalTransition):
        orders.cancel(done, ManagerFactory(), "too late")


def test_reassign_by_manager_with_reason(at_now, client_user, service, worker):
    order = order_in(S.MATCHED, client_user, service, worker)
    other = WorkerFactory()
    manager = ManagerFactory()
    with pytest.raises(ValidationError):
        orders.reassign(order, other, "", manager)
    with pytest.raises(ValidationError):
        orders.reassign(order, worker, "same one", manager)
    orders.reassign(order, other, "Whiskers is ill", manager)
    assert order.worker_id == other.id and order.status == S.MATCHED
    event = Event.query.filter_by(type="order.reassigned", aggregate_id=str(order.id)).one()
    assert event.payload["previous_worker_id"] == worker.id and event.payload["reason"] == "Whiskers is ill"


# ---------------------------------------------------------------- no-shows (US-130..132)


def test_no_show_fails_after_the_grace_and_not_before(client_user, service, worker):
    with time_machine.travel(NOW, tick=False) as traveller:
        order = order_in(S.KIT_ISSUED, client_user, service, worker)
        traveller.move_to(SLOT + timedelta(minutes=29))
        assert order.id not in orders.overdue_order_ids()
        assert orders.fail_no_show(order.id) is False
        traveller.move_to(SLOT + timedelta(minutes=30))
        assert orders.overdue_order_ids() == [order.id]
        assert orders.fail_no_show(order.id) is True
        assert (order.status, order.finish_reason) == (S.FAILED, orders.NO_SHOW_REASON)
        event = Event.query.filter_by(type="order.failed", aggregate_id=str(order.id)).one()
        assert event.payload["reason"] == "no_show"
        assert orders.fail_no_show(order.id) is False  # a second run changes nothing


def test_checked_in_order_is_never_a_no_show(client_user, service, worker):
    with time_machine.travel(NOW, tick=False) as traveller:
        order = order_in(S.IN_PROGRESS, client_user, service, worker)
        traveller.move_to(SLOT + timedelta(hours=3))
        assert order.id not in orders.overdue_order_ids()
        assert orders.fail_no_show(order.id) is False


def test_grace_is_configurable(app, client_user, service, worker):
    app.config["NO_SHOW_GRACE_MINUTES"] = 5
    try:
        with time_machine.travel(NOW, tick=False) as traveller:
            order = order_in(S.MATCHED, client_user, service, worker)
            traveller.move_to(SLOT + timedelta(minutes=5))
            assert orders.fail_no_show(order.id) is True
    finally:
        app.config["NO_SHOW_GRACE_MINUTES"] = 30


def test_rebook_copies_everything_but_the_date_and_excludes_the_worker(client_user, service, worker):
    with time_machine.travel(NOW, tick=False) as traveller:
        order = order_in(S.MATCHED, client_user, service, worker)
        traveller.move_to(SLOT + timedelta(hours=1))
        orders.fail_no_show(order.id)
        new_slot = SLOT + timedelta(days=2)
        with pytest.raises(IllegalTransition):
            orders.rebook(order, ClientFactory(), new_slot)
        copy = orders.rebook(order, client_user, new_slot)
        assert (copy.description, copy.address, copy.service_type_id) == (
            order.description,
            order.address,
            order.service_type_id,
        )
        assert copy.slot_start == new_slot and copy.rebooked_from_id == order.id and copy.status == S.REQUESTED
        assert orders.excluded_workers(copy) == {worker.id}
        assert order.status == S.FAILED  # the failed order keeps its history
        with pytest.raises(DuplicateError):
            orders.rebook(order, client_user, new_slot + timedelta(days=1))


def test_only_failed_orders_can_be_rebooked(at_now, client_user, service, worker):
    order = order_in(S.MATCHED, client_user, service, worker)
    with pytest.raises(IllegalTransition):
        orders.rebook(order, client_user, SLOT + timedelta(days=1))


# ---------------------------------------------------------------- discount tiers (US-040)

UNIT = 100


@pytest.mark.parametrize(
    ("paid_units", "percent"),
    [
        (0, 0),
        (9_999.99, 0),
        (10_000, 0),
        (10_000.01, 5),
        (20_000, 5),
        (20_000.01, 6),
        (30_000, 6),
        (30_000.01, 7),
        (70_000.01, 11),
        (80_000, 11),
        (80_000.01, 12),
        (90_000.01, 12),
        (10_000_000, 12),
    ],
)
def test_discount_tiers_at_and_around_each_boundary(paid_units, percent):
    assert pricing.discount_percent(round(paid_units * UNIT)) == percent


@given(st.integers(min_value=0, max_value=10**12))
def test_discount_is_monotonic_capped_and_next_tier_is_exact(paid):
    percent = pricing.discount_percent(paid)
    assert percent in {0, 5, 6, 7, 8, 9, 10, 11, 12}
    assert pricing.discount_percent(paid + 1) >= percent
    upcoming = pricing.next_tier(paid)
    if percent == 12:
        assert upcoming is None
    else:
        next_percent, missing = upcoming
        assert missing > 0 and next_percent > percent
        assert pricing.discount_percent(paid + missing) == next_percent
        assert pricing.discount_percent(paid + missing - 1) == percent


@pytest.mark.parametrize(("base", "percent", "price"), [(10000, 0, 10000), (10000, 5, 9500), (999, 5, 949), (1, 12, 1)])
def test_discount_rounds_half_up_to_the_cent(base, percent, price):
    assert pricing.apply_discount(base, percent) == price


def test_quote_uses_the_service_base_price(db):
    service = ServiceType(name="x", base_price_cents=250_00)
    quote = pricing.quote(1, service)
    assert (quote.base_cents, quote.discount_percent, quote.price_cents) == (250_00, 0, 250_00)


# ---------------------------------------------------------------- the check-in window (US-180)


def test_us180_check_in_opens_shortly_before_the_slot(app, client_user, service, worker):
    from tests.support.web import config_values

    with config_values(app, CHECKIN_OPENS_MINUTES=60), time_machine.travel(NOW, tick=False) as traveller:
        order = order_in(S.KIT_ISSUED, client_user, service, worker)
        traveller.move_to(SLOT - timedelta(hours=27))
        with pytest.raises(IllegalTransition, match="Check-in opens at 09:00"):
            orders.start(order, worker, "checkin.jpg")
        assert order.status == S.KIT_ISSUED
        traveller.move_to(SLOT - timedelta(minutes=61))
        with pytest.raises(IllegalTransition):
            orders.start(order, worker, "checkin.jpg")
        traveller.move_to(SLOT - timedelta(minutes=60))
        orders.start(order, worker, "checkin.jpg")
        assert order.status == S.IN_PROGRESS
