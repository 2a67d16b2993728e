"""The per-worker figures matching reads (issue 13, point 4) stay exact: after every step of orders
played through every status, reassignment, a moved slot and a deletion, the kept figures equal a
recount from the orders; `rebuild` repairs figures that were tampered with."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update

from app.extensions import db as database
from app.matching import figures
from app.matching.pipeline import rank
from app.orders import services as orders
from app.orders.models import Order
from app.orders.states import TRANSITIONS, move
from tests.support.factories import ManagerFactory
from tests.support.matching import DEFAULT_PIPELINE, SLOT, S, make_worker, new_order

pytestmark = pytest.mark.usefixtures("at_now")
WEEKDAYS = [n for n in range(12) if (SLOT + timedelta(days=n)).weekday() != 6]  # no work on Sundays


def assert_exact() -> None:
    database.session.flush()
    assert figures.kept() == figures.recount()


def test_every_status_keeps_the_figures_exact(db, service, client_user):
    a, b = make_worker(name="A"), make_worker(name="B")
    manager = ManagerFactory()
    slots = [SLOT + timedelta(days=n) for n in WEEKDAYS[:6]]

    done = new_order(client_user, service, slots[0])
    assert_exact()
    orders.assign_worker(done, a)
    assert_exact()
    orders.issue_kit(done)
    orders.start(done, a, "checkin/x.jpg")
    assert_exact()
    orders.complete(done, a, "reports/x.jpg")
    assert_exact()

    cancelled = new_order(client_user, service, slots[1])
    orders.assign_worker(cancelled, b)
    orders.reassign(cancelled, a, "B is ill", manager)  # the booking moves from B to A
    assert_exact()
    orders.cancel(cancelled, manager, "changed plans")
    assert_exact()

    no_show = new_order(client_user, service, slots[2])
    orders.assign_worker(no_show, b)
    orders.issue_kit(no_show)
    orders.fail(no_show, "no_show")
    assert_exact()
    copy = orders.rebook(no_show, client_user, slots[3])
    orders.assign_worker(copy, a)
    assert_exact()

    never_matched = new_order(client_user, service, slots[4])
    orders.cancel(never_matched, client_user, "no longer needed")
    assert_exact()

    # Writes that bypass the services count too: a moved slot, a changed worker, a deletion.
    database.session.execute(
        update(Order).where(Order.id == copy.id).values(slot_start=slots[5], slot_end=slots[5] + timedelta(hours=2))
    )
    assert_exact()
    database.session.execute(update(Order).where(Order.id == done.id).values(worker_id=b.id))
    assert_exact()
    database.session.execute(delete(Order).where(Order.id == never_matched.id))
    assert_exact()

    results, load = figures.kept()
    assert results == {a.id: (0, 0, 1), b.id: (1, 1, 0)}
    assert load == {(a.id, slots[5].date()): 1}


def test_a_random_walk_through_the_status_machine_keeps_them_exact(db, service, client_user):
    rng = random.Random(13)
    workers = [make_worker() for _ in range(4)]
    manager = ManagerFactory()
    live: list[Order] = []
    for step in range(120):
        if not live or rng.random() < 0.3:
            live.append(
                new_order(client_user, service, SLOT + timedelta(days=rng.choice(WEEKDAYS), hours=rng.randrange(8)))
            )
        order = rng.choice(live)
        targets = sorted(TRANSITIONS[S(order.status)])
        if not targets:
            live.remove(order)
            continue
        target = rng.choice(targets)
        if target == S.MATCHED:
            orders.assign_worker(order, rng.choice(workers))
        elif order.status in (S.MATCHED, S.KIT_ISSUED) and rng.random() < 0.2:
            other = rng.choice([w for w in workers if w.id != order.worker_id])
            orders.reassign(order, other, "swap", manager)
        else:
            move(order, target, reason="walk")
        if step % 10 == 0:
            assert_exact()
    assert_exact()


def test_rebuild_repairs_tampered_figures_and_matching_reads_them(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    worker = make_worker(strengths=["cleaning"])
    done = new_order(client_user, service)
    orders.assign_worker(done, worker)
    orders.issue_kit(done)
    orders.start(done, worker, "checkin/x.jpg")
    orders.complete(done, worker, "reports/x.jpg")
    database.session.execute(text("UPDATE matching_worker_figures SET completed = 99, failed = 7"))
    database.session.execute(
        text("INSERT INTO matching_worker_load_days VALUES (:w, '2026-11-25', 5)"), {"w": worker.id}
    )
    assert figures.kept() != figures.recount()

    order = new_order(client_user, service, SLOT + timedelta(days=2))
    tampered = rank(order).scores[worker.id]
    figures.rebuild()
    assert_exact()
    rebuilt = rank(order).scores[worker.id]
    assert tampered["Past results"] != rebuilt["Past results"]
    assert rebuilt["Past results"] == pytest.approx(3.0 * (1 + 1) / (1 + 0 + 2))  # weight 3, prior 1
    assert rebuilt["Current load"] == pytest.approx(1.0)


def test_the_rebuild_command_recounts(app, db, service, client_user):
    worker = make_worker()
    order = new_order(client_user, service)
    orders.assign_worker(order, worker)
    database.session.execute(text("DELETE FROM matching_worker_load_days"))
    result = app.test_cli_runner().invoke(args=["matching", "rebuild-figures"])
    assert result.exit_code == 0, result.output
    assert "1 worker-days with booked orders" in result.output
    assert_exact()
