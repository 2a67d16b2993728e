"""No double booking while someone is free (issue 11, point 10; US-061, US-073).

Many orders for one slot are matched at the same moment, each in a thread of its own with its own
transaction on its own PostgreSQL connection (as RQ workers on several machines would): no worker
gets two overlapping orders while another suitable worker is free; when nobody is, every order is
still assigned (US-073) and the double bookings are recorded and flagged for the managers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db as database
from app.matching import services as matching
from app.matching.models import MatchRun
from app.orders import service_types
from app.orders import services as orders
from app.orders.bookings import clashes
from app.orders.models import Order
from tests.support.factories import ClientFactory
from tests.support.matching import S, make_worker, past_order

# A slot far enough ahead that the real clock (threads do not share a frozen one) sees it as future.
SLOT = (datetime.now(UTC) + timedelta(days=30)).replace(hour=10, minute=0, second=0, microsecond=0)


def match_at_once(app, order_ids: list[int]) -> list[Exception]:
    """Match every order in a thread of its own, all released together; the errors raised."""
    start = threading.Barrier(len(order_ids))
    errors: list[Exception] = []

    def match(order_id: int) -> None:
        with app.app_context():
            try:
                order = database.session.get(Order, order_id)
                start.wait(30)
                matching.match_order(order)
                database.session.commit()
            except Exception as exc:  # reported to the test below
                database.session.rollback()
                errors.append(exc)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=match, args=(order_id,)) for order_id in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def requested(count: int, slot: datetime = SLOT, minutes_apart: int = 0) -> list[int]:
    service = service_types.save_service_type(None, name="Sofa cleaning", skills="cleaning", consumables="sponge")
    clients = [ClientFactory() for _ in range(count)]
    ids = [
        orders.request_order(
            client,
            service_type_id=service.id,
            description="Clean the sofa",
            slot_start=slot + timedelta(minutes=minutes_apart * n),
        ).id
        for n, client in enumerate(clients)
    ]
    database.session.commit()
    return ids


def overlapping_pairs() -> list[tuple[int, int]]:
    """Pairs of booked orders of one worker whose slots overlap."""
    booked = database.session.scalars(select(Order).where(Order.status == S.MATCHED)).all()
    return [
        (order.id, other)
        for order in booked
        for other in clashes(order.worker_id, order.slot_start, order.slot_end, exclude_order_id=order.id)
    ]


def test_many_orders_of_one_slot_at_once_go_to_different_free_workers(app, committed_db):
    workers = [make_worker(strengths=["cleaning"]) for _ in range(8)]
    database.session.commit()
    ids = requested(8)

    assert match_at_once(app, ids) == []

    database.session.expire_all()
    matched = database.session.scalars(select(Order).where(Order.id.in_(ids))).all()
    assert {order.status for order in matched} == {S.MATCHED}
    assert sorted(order.worker_id for order in matched) == sorted(worker.id for worker in workers)
    assert overlapping_pairs() == []
    assert not any(order.double_booked for order in matched)
    runs = database.session.scalars(select(MatchRun).where(MatchRun.order_id.in_(ids))).all()
    assert len(runs) == 8 and not any(run.double_booked for run in runs)
    # Those whose first choice was taken meanwhile say so in their explanation.
    moved = [run for run in runs if run.chosen_worker_id != run.ranked()[0][0]]
    assert all("already had an order at an overlapping time" in run.note for run in moved)


def test_when_nobody_is_free_every_order_is_still_assigned_and_the_double_bookings_are_flagged_us073(app, committed_db):
    workers = [make_worker(strengths=["cleaning"]) for _ in range(3)]
    database.session.commit()
    ids = requested(7)

    assert match_at_once(app, ids) == []

    database.session.expire_all()
    matched = database.session.scalars(select(Order).where(Order.id.in_(ids))).all()
    assert {order.status for order in matched} == {S.MATCHED}
    flagged = [order for order in matched if order.double_booked]
    # Three orders found a free worker each; the four others were double booked, and say so.
    assert len(flagged) == 4
    assert {order.worker_id for order in matched if not order.double_booked} == {worker.id for worker in workers}
    for order in flagged:
        assert clashes(order.worker_id, order.slot_start, order.slot_end, exclude_order_id=order.id)
        run = database.session.scalars(select(MatchRun).where(MatchRun.order_id == order.id)).one()
        assert run.double_booked and "double booked" in run.note
    # Every overlap is between a flagged order and another: none without a flag.
    assert all(any(order_id in (a, b) for order_id in (o.id for o in flagged)) for a, b in overlapping_pairs())


def test_orders_at_different_times_may_share_a_worker(app, committed_db):
    """Only overlapping slots clash: back-to-back orders (two hours apart) can go to one worker."""
    make_worker(strengths=["cleaning"])
    database.session.commit()
    ids = requested(3, minutes_apart=120)

    assert match_at_once(app, ids) == []

    database.session.expire_all()
    matched = database.session.scalars(select(Order).where(Order.id.in_(ids))).all()
    assert len({order.worker_id for order in matched}) == 1
    assert not any(order.double_booked for order in matched)


@pytest.mark.usefixtures("at_now")
def test_a_busy_worker_ranked_first_without_the_filter_is_passed_over(db, pipeline, service, client_user):
    """Without the "free at that time" step the best-ranked worker may be booked: the best free one
    is chosen instead, and the explanation says why."""
    pipeline([("strengths", "Strengths", {"weight": 1.0})])
    best = make_worker(strengths=["cleaning"], name="Best Busy")
    second = make_worker(name="Second Free")
    slot = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    past_order(client_user, service, best, S.MATCHED, slot + timedelta(minutes=30))
    order = orders.request_order(client_user, service_type_id=service.id, description="Sofa", slot_start=slot)

    run = matching.match_order(order)

    assert order.worker_id == second.id and not order.double_booked
    assert run.ranked()[0][0] == best.id and run.chosen_worker_id == second.id
    assert "Best Busy already had an order at an overlapping time" in run.note


@pytest.mark.usefixtures("at_now")
def test_managers_see_a_double_booking_on_the_order_and_in_the_list(db, pipeline, service, client_user, client):
    from tests.support.factories import ManagerFactory
    from tests.support.fixtures import login

    pipeline([("free_at_slot", "Free", {"buffer_minutes": 0})])
    only = make_worker(name="Only One")
    slot = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    past_order(client_user, service, only, S.MATCHED, slot)
    order = orders.request_order(client_user, service_type_id=service.id, description="Sofa", slot_start=slot)
    run = matching.match_order(order)
    assert order.double_booked and run.double_booked and run.fell_back

    login(client, ManagerFactory())
    page = client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert "double booked" in page.lower()
    assert "flagged as double booked" in page  # the explanation's note
    listing = client.get("/manage/orders").get_data(as_text=True)
    assert "double booked" in listing.lower()


@pytest.mark.usefixtures("at_now")
def test_a_reassignment_moves_the_flag_with_the_worker(db, pipeline, service, client_user):
    from tests.support.factories import ManagerFactory

    pipeline([("free_at_slot", "Free", {"buffer_minutes": 0})])
    busy = make_worker(name="Busy")
    slot = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    past_order(client_user, service, busy, S.MATCHED, slot)
    order = orders.request_order(client_user, service_type_id=service.id, description="Sofa", slot_start=slot)
    matching.match_order(order)
    assert order.double_booked
    free = make_worker(name="Free")
    orders.reassign(order, free, "Busy has another order then", ManagerFactory())
    assert not order.double_booked
    orders.reassign(order, busy, "the client asked for Busy", ManagerFactory())
    assert order.double_booked


def test_a_worker_finishing_an_order_while_matching_chooses_them_does_not_deadlock(app, committed_db):
    """Matching holds the chosen worker's figures row, then its assignment touches the worker's
    load days; an order of that worker ending at the same time touches both too. The trigger takes
    the figures row first, as matching does, so the second waits instead of deadlocking."""
    from app.matching import figures
    from app.orders.states import move

    worker = make_worker(strengths=["cleaning"])
    database.session.commit()
    new_id, running_id = requested(2, minutes_apart=180)
    running = database.session.get(Order, running_id)
    orders.assign_worker(running, worker)
    orders.issue_kit(running)
    move(running, S.IN_PROGRESS)
    database.session.commit()
    worker_id = worker.id
    chosen, errors = threading.Event(), []

    def matcher() -> None:
        with app.app_context():
            try:
                figures.lock_worker(worker_id)
                chosen.set()
                threading.Event().wait(0.7)  # the other transaction runs into our lock meanwhile
                from app.accounts.models import User

                orders.assign_worker(database.session.get(Order, new_id), database.session.get(User, worker_id))
                database.session.commit()
            except Exception as exc:
                database.session.rollback()
                errors.append(exc)
            finally:
                database.session.remove()

    def finisher() -> None:
        chosen.wait(10)
        with app.app_context():
            try:
                move(database.session.get(Order, running_id), S.COMPLETED)
                database.session.commit()
            except Exception as exc:
                database.session.rollback()
                errors.append(exc)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=matcher), threading.Thread(target=finisher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    database.session.expire_all()
    assert database.session.get(Order, new_id).status == S.MATCHED
    assert database.session.get(Order, running_id).status == S.COMPLETED
    assert figures.kept() == figures.recount()
