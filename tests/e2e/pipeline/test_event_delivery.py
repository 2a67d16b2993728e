"""US-300: events reach consumers exactly in effect (once, in order per aggregate), nothing is
enqueued before its commit, and a Redis flush loses nothing because Postgres is the truth.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import delete, func, select

from app.events.jobs import DELIVER
from app.events.models import Event, EventFailure, HandledEvent
from app.notifications.models import EmailStatus
from tests.support.pipeline import outbox, wait_until


def _create_worker(email: str):
    from app.accounts.services import create_worker

    return create_worker(email, "Tom Kitten", age=3, breed="Tabby", coat_colour="grey", strengths=["cleaning"])


def _queued(name: str) -> list[tuple[str, tuple]]:
    from app.platform.queues import get_queue

    return [(job.func_name, tuple(job.args)) for job in get_queue(name).get_jobs()]


@pytest.mark.slow
def test_us300_redis_flush_loses_no_invitation(committed_db, workers, run_burst, smtp_sink, redis_url):
    """Events undelivered and nothing in Redis: the sweep and a worker send every invitation."""
    from app.platform.queues import get_queue

    emails = [f"flushed{i}@example.com" for i in range(3)]
    for email in emails:
        _create_worker(email)
    committed_db.session.commit()
    assert _queued("events"), "the commit enqueues the deliveries"

    Redis.from_url(redis_url).flushdb()  # before any worker ran: every job is gone
    assert not _queued("events")

    get_queue("default").enqueue("app.platform.sweep.sweep")
    run_burst("default", "events", "emails")  # the sweep, then the deliveries it enqueues, then the mail

    assert sorted(m.recipient for m in smtp_sink.messages) == emails
    assert all(row.template == "invitation" and row.status == EmailStatus.SENT for row in outbox())
    committed_db.session.rollback()
    invitations = select(Event.id).where(Event.type == "account.invitation_sent")
    handled = select(func.count()).where(
        HandledEvent.consumer == "notifications", HandledEvent.event_id.in_(invitations)
    )
    assert committed_db.session.scalar(handled) == 3


@pytest.mark.slow
def test_us300_duplicate_delivery_sends_one_email(committed_db, workers, run_burst, smtp_sink):
    """The same delivery enqueued three times, run by two workers at once; then the handler re-run."""
    from app.platform.queues import get_queue

    session = committed_db.session
    user = _create_worker("twice@example.com")
    user_id = str(user.id)
    session.commit()
    for _ in range(2):
        get_queue("events").enqueue(DELIVER, "notifications", "user", user_id)
    assert _queued("events").count((DELIVER, ("notifications", "user", user_id))) == 3

    concurrent = [workers("events", "emails", burst=True) for _ in range(2)]
    for worker in concurrent:
        assert worker.wait() == 0, worker.log()
    wait_until(lambda: smtp_sink.messages, message=workers.logs)
    (row,) = outbox()
    assert row.status == EmailStatus.SENT and row.idempotency_key.endswith(":invitation")

    # The handler runs again for the same event, as if its bookkeeping had been lost.
    session.rollback()
    event_id = session.scalar(select(Event.id).where(Event.type == "account.invitation_sent"))
    session.execute(delete(HandledEvent).where(HandledEvent.event_id == event_id))
    session.commit()
    get_queue("events").enqueue(DELIVER, "notifications", "user", user_id)
    run_burst("events", "emails")

    session.rollback()
    assert session.scalar(select(func.count()).where(HandledEvent.event_id == event_id)) == 1
    assert [r.id for r in outbox()] == [row.id]
    assert [m.message_id for m in smtp_sink.messages] == [row.message_id]


@pytest.fixture
def test_consumer():
    """A consumer that exists only in this process, removed from the registry afterwards."""
    from app.events.registry import Consumer, consumers

    consumer = Consumer(f"us300-test-{secrets.token_hex(4)}")
    try:
        yield consumer
    finally:
        consumers.pop(consumer.name, None)


def test_us300_events_of_an_aggregate_arrive_in_order_and_a_failure_holds_the_later_ones(
    committed_db, test_consumer, simple_worker
):
    from app.events import publish

    session = committed_db.session
    event_type = f"{test_consumer.name}.step"
    seen: list[tuple[str, int]] = []
    failing = {"A"}

    @test_consumer.handles(event_type)
    def record(event):
        aggregate, step = event.aggregate_id, event.payload["step"]
        if step == 1 and aggregate in failing:
            raise RuntimeError(f"us300 boom on {aggregate}{step}")
        seen.append((aggregate, step))

    for step in (1, 2, 3):
        publish(event_type, "us300", "A", {"step": step})
        publish(event_type, "us300", "B", {"step": step})
        session.commit()

    def failure_of_a():
        session.rollback()
        return session.scalars(select(EventFailure).where(EventFailure.consumer == test_consumer.name)).one_or_none()

    simple_worker("events")
    failure = failure_of_a()
    assert failure.attempts >= 1 and "us300 boom on A1" in failure.last_error
    assert session.get(Event, failure.event_id).payload == {"step": 1}

    def retried():
        simple_worker("events")  # a burst moves the retries that are due, then works them
        return failure_of_a().attempts >= 2

    wait_until(retried, interval=0.1)
    assert seen == [("B", 1), ("B", 2), ("B", 3)], "A's failure must hold A's later events, and only those"
    handled = select(func.count()).where(HandledEvent.consumer == test_consumer.name)
    assert session.scalar(handled) == 3

    failing.clear()

    def a_done():
        simple_worker("events")
        return ("A", 3) in seen

    wait_until(a_done, interval=0.1)
    assert [step for aggregate, step in seen if aggregate == "A"] == [1, 2, 3]
    assert session.scalar(handled) == 6
    assert failure_of_a() is None, "the failure is cleared when the event succeeds"


def test_us300_nothing_is_enqueued_before_the_commit(committed_db):
    from app.events import publish

    session = committed_db.session
    expected = (DELIVER, ("notifications", "user", "4242"))

    publish("account.invitation_sent", "user", 4242, {"user_id": 4242})
    assert not _queued("events"), "enqueued before the commit"
    session.rollback()
    assert not _queued("events"), "a rolled-back publish was enqueued"
    assert session.scalar(select(func.count()).select_from(Event)) == 0

    # A savepoint released inside the transaction is not a commit (services use them, e.g. to add a user).
    with session.begin_nested():
        publish("account.invitation_sent", "user", 4242, {"user_id": 4242})
    with session.begin_nested():
        session.flush()
    assert not _queued("events"), "enqueued when a savepoint was released, before the commit"
    savepoint = session.begin_nested()
    publish("account.invitation_sent", "user", 9999, {"user_id": 9999})
    savepoint.rollback()
    session.commit()
    assert _queued("events") == [expected], "only the committed publish is enqueued"

    _create_worker("first@example.com")
    _create_worker("second@example.com")  # its user is added in a savepoint, after the first's events
    assert _queued("events") == [expected], "a service's savepoint enqueued uncommitted events"
    session.commit()
    assert len(_queued("events")) == 3


def test_deliveries_left_to_the_sweep_enqueue_nothing_but_stay_pending(committed_db):
    """A bulk load through the services (the demo) queues no job ahead of everyone's mail; the sweep
    still finds its events."""
    from app.events import publish
    from app.events.jobs import pending_deliveries
    from app.events.services import deliveries_left_to_the_sweep

    session = committed_db.session
    with deliveries_left_to_the_sweep():
        publish("account.invitation_sent", "user", 4343, {"user_id": 4343})
    session.commit()
    assert not _queued("events")
    assert (DELIVER, ("notifications", "user", "4343")) in [
        (func, args) for _queue, func, args in pending_deliveries(timedelta(0))
    ]
    publish("account.invitation_sent", "user", 4344, {"user_id": 4344})
    session.commit()
    assert _queued("events") == [(DELIVER, ("notifications", "user", "4344"))]
