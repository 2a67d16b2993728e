"""US-300 across orders: a client's mail about several orders, handled by two real workers while
the first order's mail fails twice (an injected database fault), reaches the SMTP server in the
order of the events that caused it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.events.models import Event
from app.notifications.models import EmailStatus
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.pipeline import outbox, wait_until
from tests.support.supplies import make_service, next_slot, requested_order

ORDERS = 5


@pytest.fixture
def first_mail_fails_twice(committed_db):
    """A trigger that refuses the first order's mail twice; a sequence counts (it survives the
    rollback of the transaction the trigger aborts)."""
    session = committed_db.session

    def install(event_id: int) -> None:
        session.execute(
            text(
                f"""
                CREATE SEQUENCE injected_failures;
                CREATE FUNCTION refuse_mail_twice() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.idempotency_key LIKE 'event:{event_id}:%' AND nextval('injected_failures') <= 2 THEN
                        RAISE EXCEPTION 'injected failure';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse_mail_twice BEFORE INSERT ON outbox_emails
                    FOR EACH ROW EXECUTE FUNCTION refuse_mail_twice();
                """
            )
        )
        session.commit()

    install.failures = lambda: session.scalar(text("SELECT last_value FROM injected_failures"))
    yield install
    session.rollback()
    session.execute(text("DROP TRIGGER IF EXISTS refuse_mail_twice ON outbox_emails"))
    session.execute(text("DROP FUNCTION IF EXISTS refuse_mail_twice()"))
    session.execute(text("DROP SEQUENCE IF EXISTS injected_failures"))
    session.commit()


@pytest.mark.slow
def test_us300_a_clients_mail_about_many_orders_arrives_in_event_order(
    committed_db, workers, smtp_sink, first_mail_fails_twice
):
    session = committed_db.session
    client = ClientFactory(name="Clara")
    WorkerFactory(name="Whiskers")
    WorkerFactory(name="Tom")
    service = make_service()
    session.commit()
    address = client.email

    first = requested_order(client, service, next_slot(hour=9))
    session.flush()
    first_event = session.scalar(select(Event.id).where(Event.aggregate_id == str(first.id)))
    first_mail_fails_twice(first_event)  # commits the first order too; its deliveries are enqueued
    for hour in range(10, 10 + ORDERS - 1):
        requested_order(client, service, next_slot(hour=hour))
        session.commit()  # one transaction per order, as clients' requests are

    for _ in range(2):
        workers("events", "emails")

    def every_order_mailed_twice():  # requested, then matched, for each order
        session.rollback()
        rows = outbox(address)
        return len(rows) == 2 * ORDERS and all(row.status == EmailStatus.SENT for row in rows) and rows

    rows = wait_until(every_order_mailed_twice, timeout=60, message=workers.logs)
    assert first_mail_fails_twice.failures() >= 2, "the injected failure happened"

    event_of_message = {row.message_id: int(row.idempotency_key.split(":")[1]) for row in rows}
    wait_until(lambda: len(smtp_sink.to(address)) == 2 * ORDERS, message=workers.logs)
    arrived = [event_of_message[message.message_id] for message in smtp_sink.to(address)]
    assert arrived == sorted(arrived), "the client's mail arrived out of the order of its events"
    assert arrived[0] == first_event, "the first order's mail, though it failed twice, came first"
