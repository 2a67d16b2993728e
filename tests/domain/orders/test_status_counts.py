"""The counts per status (app.orders.counts) stay exact: every transition of the status machine,
set-based writes, deletes, folds, and transitions racing each other in separate transactions are
compared with a recount of the orders (US-060: the managers' counts per status)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from app.extensions import db as database
from app.orders import counts
from app.orders.models import Order, OrderSlotCount, OrderStatus, OrderStatusCount
from app.orders.states import TRANSITIONS, IllegalTransition, move
from app.platform.clock import utcnow
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.manage import make_order
from tests.support.orders import make_service

S = OrderStatus


def recount() -> dict[str, int]:
    return dict(database.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())


def recount_hours() -> dict[tuple, int]:
    hour = func.date_trunc("hour", Order.slot_start, "UTC")
    rows = database.session.execute(select(hour, Order.status, func.count()).group_by(hour, Order.status))
    return {(slot_hour, status): total for slot_hour, status, total in rows}


def kept_hours() -> dict[tuple, int]:
    rows = database.session.execute(
        select(OrderSlotCount.slot_hour, OrderSlotCount.status, func.sum(OrderSlotCount.delta))
        .group_by(OrderSlotCount.slot_hour, OrderSlotCount.status)
        .having(func.sum(OrderSlotCount.delta) != 0)
    )
    return {(slot_hour, status): int(total) for slot_hour, status, total in rows}


def assert_exact() -> None:
    assert counts.status_counts() == recount()
    assert kept_hours() == recount_hours()


@pytest.fixture
def service(db):
    return make_service()


def test_every_transition_of_the_status_machine_keeps_the_counts_exact(db, service):
    client, worker = ClientFactory(), WorkerFactory()
    assert_exact()
    # Every legal step from every status, each on an order brought there by the machine itself.
    paths = {
        S.REQUESTED: [],
        S.MATCHED: [S.MATCHED],
        S.KIT_ISSUED: [S.MATCHED, S.KIT_ISSUED],
        S.IN_PROGRESS: [S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS],
    }
    for source, path in paths.items():
        for target in sorted(TRANSITIONS[source]):
            order = make_order(client, service, worker=worker)
            assert_exact()
            for step in [*path, target]:
                move(order, step, reason="test")
                assert_exact()
            with pytest.raises(IllegalTransition):
                move(order, S.MATCHED)  # every target here is further on: refused, nothing counted
            assert_exact()
    assert counts.status_counts()[S.COMPLETED] == 1


def test_set_based_writes_deletes_and_folds_keep_the_counts_exact(db, service):
    client = ClientFactory()
    slot = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    for status in S:
        for n in range(3):
            make_order(client, service, status=status, slot_start=slot + timedelta(minutes=50 * n))
    assert_exact()
    # One statement moving many orders, one deleting some: the triggers count per statement.
    database.session.execute(update(Order).where(Order.status == S.REQUESTED).values(status=S.CANCELLED))
    assert_exact()
    database.session.execute(update(Order).where(Order.status == S.FAILED).values(description="unchanged status"))
    assert_exact()
    database.session.execute(delete(Order).where(Order.status == S.MATCHED))
    assert_exact()
    # Rescheduled: the hourly counts move with the slot.
    database.session.execute(
        update(Order)
        .where(Order.status == S.COMPLETED)
        .values(slot_start=Order.slot_start + timedelta(hours=3), slot_end=Order.slot_end + timedelta(hours=3))
    )
    assert_exact()
    rows = database.session.scalar(select(func.count()).select_from(OrderStatusCount))
    hour_rows = database.session.scalar(select(func.count()).select_from(OrderSlotCount))
    assert rows > len(S)
    assert counts.fold() == rows - len(recount()) + hour_rows - len(recount_hours())
    assert database.session.scalar(select(func.count()).select_from(OrderStatusCount)) == len(recount())
    assert database.session.scalar(select(func.count()).select_from(OrderSlotCount)) == len(recount_hours())
    assert_exact()
    assert S.REQUESTED.value not in counts.status_counts() and S.MATCHED.value not in counts.status_counts()


def _in_threads(app, bodies):
    """Each body in its own thread, app context and database connection, started together."""
    barrier = threading.Barrier(len(bodies))
    errors = []

    def run(body):
        with app.app_context():
            barrier.wait()
            try:
                body()
            except Exception as exc:  # re-raised by the test
                errors.append(exc)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=run, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def test_concurrent_transitions_and_folds_keep_the_counts_exact(app, committed_db):
    """Six transactions at once play 60 orders through random legal steps (racing on the same
    orders, some rolled back), while folds run: the counts equal a recount at the end."""
    service = make_service()
    client, worker = ClientFactory(), WorkerFactory()
    slot = utcnow() + timedelta(days=2)
    ids = [
        make_order(client, service, worker=worker, slot_start=slot + timedelta(minutes=20 * n)).id for n in range(60)
    ]
    database.session.commit()
    stop = threading.Event()

    def player(seed: int):
        def body():
            chooser = random.Random(seed)
            for _ in range(80):
                order = database.session.get(Order, chooser.choice(ids))
                choices = sorted(TRANSITIONS[S(order.status)])
                if not choices:
                    database.session.rollback()
                    continue
                onward = [step for step in choices if step not in (S.CANCELLED, S.FAILED)]
                step = onward[0] if onward and chooser.random() < 0.85 else chooser.choice(choices)
                try:
                    move(order, step, reason="race")
                except IllegalTransition:  # another transaction moved it first
                    database.session.rollback()
                    continue
                if chooser.random() < 0.2:
                    database.session.rollback()
                else:
                    database.session.commit()

        return body

    def folder():
        while not stop.is_set():
            counts.fold()
            database.session.commit()

    fold_thread = threading.Thread(target=lambda: _in_threads(app, [folder]))
    fold_thread.start()
    try:
        _in_threads(app, [player(seed) for seed in range(6)])
    finally:
        stop.set()
        fold_thread.join(60)
    database.session.expire_all()
    finished = recount()
    assert sum(finished.values()) == 60 and len(finished) >= 4, finished
    assert counts.status_counts() == finished
    assert kept_hours() == recount_hours()
    counts.fold()
    database.session.commit()
    assert counts.status_counts() == finished
    assert kept_hours() == recount_hours()


def test_the_periodic_fold_job_folds(db, service):
    from app.orders.jobs import fold_status_counts
    from app.platform.schedule import periodic_jobs

    make_order(ClientFactory(), service)
    make_order(ClientFactory(), service)
    assert_exact()
    assert periodic_jobs["order-counts-fold"].func is fold_status_counts
    assert fold_status_counts() >= 1
    assert_exact()
    assert database.session.execute(text("SELECT count(*) FROM order_status_counts")).scalar() == len(recount())
    assert database.session.execute(text("SELECT count(*) FROM order_slot_counts")).scalar() == len(recount_hours())
