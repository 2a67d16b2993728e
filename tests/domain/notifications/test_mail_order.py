"""US-300: each person receives their mail in the order of the events that caused it, across
orders too. Two orders of one client are delivered independently (another worker, a retry): an
event waits while an earlier one naming the same people is unhandled (the delivery handles that
one first when it can), so the sequence numbers a person's mail gets, and with them the order it
is sent in, follow the events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from app.events.jobs import advance_watermarks, deliver, handled_through
from app.events.models import Event, EventFailure
from app.platform.clock import utcnow
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.supplies import make_service, next_slot, outbox_rows, requested_order


@pytest.fixture
def two_orders(committed_db):
    """Two orders of one client, A requested before B; nothing delivered yet."""
    client = ClientFactory(name="Clara")
    service = make_service()
    first = requested_order(client, service, next_slot(hour=10), description="first")
    second = requested_order(client, service, next_slot(hour=12), description="second")
    committed_db.session.commit()
    return client, first, second


def deliver_notifications(order) -> int:
    return deliver("notifications", "order", str(order.id))


def make_waits_due(db) -> None:
    db.session.execute(update(EventFailure).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def mailed_events(db, person) -> list[int]:
    """The events that caused the person's mail, in the mail's sequence order."""
    db.session.rollback()
    return [int(row.idempotency_key.split(":")[1]) for row in outbox_rows(person.email)]


def event_id(db, order, event_type: str = "order.requested") -> int:
    return db.session.scalar(select(Event.id).where(Event.type == event_type, Event.aggregate_id == str(order.id)))


def request_event_id(db, order) -> int:
    return event_id(db, order)


def test_us300_a_later_orders_delivery_handles_the_earlier_event_first(committed_db, two_orders):
    client, first, second = two_orders

    assert deliver_notifications(second) == 1, "B's delivery handles A's earlier event, then B's"
    assert deliver_notifications(first) == 0, "nothing left"

    assert mailed_events(committed_db, client) == [
        request_event_id(committed_db, first),
        request_event_id(committed_db, second),
    ]
    assert committed_db.session.scalars(select(EventFailure)).all() == []


def test_us300_a_failing_event_holds_the_persons_later_mail_until_it_succeeds(committed_db, two_orders):
    """An injected failure (a trigger refusing A's mail) keeps A unhandled while B is tried."""
    client, first, second = two_orders
    first_event = request_event_id(committed_db, first)
    committed_db.session.execute(
        text(
            f"""
            CREATE FUNCTION refuse_first_mail() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.idempotency_key LIKE 'event:{first_event}:%' THEN
                    RAISE EXCEPTION 'injected failure';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_first_mail BEFORE INSERT ON outbox_emails
                FOR EACH ROW EXECUTE FUNCTION refuse_first_mail();
            """
        )
    )
    committed_db.session.commit()
    try:
        assert deliver_notifications(first) == 0
        failure = committed_db.session.get(EventFailure, ("notifications", first_event))
        assert failure.attempts == 1 and "injected failure" in failure.last_error
        assert deliver_notifications(second) == 0, "B waits while A waits for its retry"
        make_waits_due(committed_db)
        assert deliver_notifications(second) == 0, "B waits while A, tried again first, fails"
        committed_db.session.rollback()
        failure = committed_db.session.get(EventFailure, ("notifications", first_event))
        assert failure.attempts == 2
        waiting = committed_db.session.get(EventFailure, ("notifications", request_event_id(committed_db, second)))
        assert waiting.is_wait and waiting.attempts == 0
        assert outbox_rows(client.email) == []
    finally:
        committed_db.session.rollback()
        committed_db.session.execute(text("DROP TRIGGER refuse_first_mail ON outbox_emails"))
        committed_db.session.execute(text("DROP FUNCTION refuse_first_mail()"))
        committed_db.session.commit()

    assert deliver_notifications(second) == 0, "still behind A, whose retry is not due yet"
    make_waits_due(committed_db)
    assert deliver_notifications(second) == 1
    assert mailed_events(committed_db, client) == [first_event, request_event_id(committed_db, second)]
    assert committed_db.session.scalars(select(EventFailure)).all() == []


def test_us300_other_peoples_events_do_not_wait(committed_db):
    service = make_service()
    someone, someone_else = ClientFactory(), ClientFactory()
    requested_order(someone, service, next_slot(hour=10))
    theirs = requested_order(someone_else, service, next_slot(hour=12))
    committed_db.session.commit()

    assert deliver_notifications(theirs) == 1


def test_a_workers_later_order_waits_for_the_event_naming_them(committed_db):
    """The worker of one order and the client of another are different people; the same worker on
    two orders is one person."""
    from app.orders import services as orders

    service = make_service()
    worker = WorkerFactory()
    first = requested_order(ClientFactory(), service, next_slot(hour=10))
    second = requested_order(ClientFactory(), service, next_slot(hour=12))
    committed_db.session.commit()
    assert deliver_notifications(first) == 1 and deliver_notifications(second) == 1
    orders.assign_worker(first, worker)
    orders.assign_worker(second, worker)
    committed_db.session.commit()

    assert deliver_notifications(second) == 1
    assert deliver_notifications(first) == 0, "handled by the second order's delivery, first"
    assert mailed_events(committed_db, worker) == [
        event_id(committed_db, first, "order.matched"),
        event_id(committed_db, second, "order.matched"),
    ]


def test_the_watermark_stops_below_the_oldest_unhandled_event(committed_db, two_orders):
    _client, first, second = two_orders
    committed_db.session.execute(update(Event).values(created_at=utcnow() - timedelta(minutes=5)))
    committed_db.session.commit()

    advance_watermarks()
    committed_db.session.rollback()
    assert handled_through("notifications") < request_event_id(committed_db, first)

    assert deliver_notifications(first) == 1
    advance_watermarks()
    committed_db.session.rollback()
    assert handled_through("notifications") == request_event_id(committed_db, second) - 1

    assert deliver_notifications(second) == 1
    advance_watermarks()
    committed_db.session.rollback()
    newest = committed_db.session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    assert handled_through("notifications") == newest
