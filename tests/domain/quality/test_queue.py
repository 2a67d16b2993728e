"""US-200: every cancelled or failed order enters the quality queue once, with why it ended;
claims resolve to one manager. US-190: random audits are uniform and recorded."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.orders.models import OrderStatus
from app.platform.validation import ValidationError
from app.quality import services as quality
from app.quality.consumers import order_ended
from app.quality.models import Audit, QualityOrder, QueueItem
from tests.support.factories import ManagerFactory
from tests.support.quality import deliver_to_quality, ended_order, fake_end, no_show

S = OrderStatus


def queued(db, order_id=None) -> int:
    query = select(func.count()).select_from(QueueItem)
    if order_id is not None:
        query = query.where(QueueItem.order_id == order_id)
    return db.session.scalar(query)


def test_us200_cancelled_and_failed_orders_enter_the_queue_with_why_they_ended(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    cancelled = ended_order(client, service, worker, status=S.CANCELLED, slot_index=0)
    failed = no_show(client, service, worker, slot_index=1)
    completed = ended_order(client, service, worker, status=S.COMPLETED, slot_index=2)

    items = {item.order_id: item for item in db.session.scalars(select(QueueItem))}
    assert set(items) == {cancelled.id, failed.id}, "a completed order is known, but not queued"
    assert items[cancelled.id].order.status == "cancelled" and items[cancelled.id].order.reason == "test"
    assert items[failed.id].order.no_show is True and items[failed.id].order.ended_by_id is None
    assert items[failed.id].order.worker_id == worker.id and items[failed.id].source == "ended"
    facts = db.session.get(QualityOrder, completed.id)
    assert (facts.status, facts.worker_id, facts.price_cents) == ("completed", worker.id, completed.price_cents)


def test_us200_a_replayed_event_adds_nothing_twice(db, frozen_time, quality_people):
    client, worker, _manager, _other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    assert queued(db, order.id) == 1
    assert deliver_to_quality(order.id) == 0, "handled events are not delivered again"

    # The handler run again as if its bookkeeping were lost: the unique order id holds.
    event = db.session.scalar(select(Event).where(Event.type == "order.failed", Event.aggregate_id == str(order.id)))
    order_ended(event)
    order_ended(event)
    assert queued(db, order.id) == 1


@pytest.mark.slow
def test_us200_concurrent_deliveries_queue_the_order_once(app, committed_db):
    """Two workers record the same ended order at the same moment, each in its own transaction."""
    barrier = threading.Barrier(2)
    errors = []

    def deliver_once():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                fake_end(4242, "failed", reason="no_show")
                committed_db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert committed_db.session.scalar(select(func.count()).select_from(QueueItem)) == 1


def test_us200_two_managers_claiming_one_item_resolve_to_one(db):
    first, second = ManagerFactory(), ManagerFactory()
    item = fake_end(1, "cancelled", reason="client changed plans")
    assert quality.claim(item.id, first.id).claimed_by_id == first.id
    with pytest.raises(quality.ClaimConflict):
        quality.claim(item.id, second.id)
    assert quality.claim(item.id, first.id).claimed_by_id == first.id, "claiming your own item again is fine"
    with pytest.raises(quality.ClaimConflict):
        quality.release(item.id, second.id)
    quality.release(item.id, first.id)
    assert quality.claim(item.id, second.id).claimed_by_id == second.id


@pytest.mark.slow
def test_us200_concurrent_claims_have_one_winner(app, committed_db):
    with app.app_context():
        managers = [ManagerFactory(), ManagerFactory()]
        item_id = fake_end(7, "failed", reason="broken vase").id
        committed_db.session.commit()
        manager_ids = [manager.id for manager in managers]
    barrier = threading.Barrier(2)
    results = []

    def claim(manager_id):
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                quality.claim(item_id, manager_id)
                committed_db.session.commit()
                results.append(("won", manager_id))
            except quality.ClaimConflict:
                committed_db.session.rollback()
                results.append(("lost", manager_id))

    threads = [threading.Thread(target=claim, args=(manager_id,)) for manager_id in manager_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome for outcome, _ in results) == ["lost", "won"]
    winner = next(manager_id for outcome, manager_id in results if outcome == "won")
    with app.app_context():
        assert committed_db.session.get(QueueItem, item_id).claimed_by_id == winner


def test_us190_random_pick_is_recorded_and_queued_claimed_by_the_manager(db):
    manager = ManagerFactory()
    fake_end(10, "completed", worker_id=5)
    fake_end(11, "completed", worker_id=6)
    filters = quality.AuditFilters(worker_id=6)
    audit = quality.pick_random(manager.id, filters)
    assert (audit.order_id, audit.candidates, audit.picked_by_id) == (11, 1, manager.id)
    assert audit.filters == {"from": None, "to": None, "service_type_id": None, "worker_id": 6}
    item = db.session.scalar(select(QueueItem).where(QueueItem.order_id == 11))
    assert (item.source, item.claimed_by_id, item.audit_id) == ("audit", manager.id, audit.id)

    empty = quality.pick_random(manager.id, filters)
    assert (empty.order_id, empty.candidates) == (None, 0), "an audit with nothing left is recorded too"
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 2


def test_us190_random_pick_never_takes_a_reviewed_queued_or_unfinished_order(db):
    manager = ManagerFactory()
    fake_end(20, "completed")
    fake_end(21, "cancelled")
    fake_end(22, "failed")
    fake_end(23, "completed")
    quality.claim(fake_end(24, "failed").id, manager.id)
    first = quality.pick_random(manager.id, quality.AuditFilters(), rng=random.Random(1))
    second = quality.pick_random(manager.id, quality.AuditFilters(), rng=random.Random(2))
    assert {first.order_id, second.order_id} == {20, 23}
    assert quality.pick_random(manager.id, quality.AuditFilters()).order_id is None


def test_us190_random_pick_is_uniform(db):
    """600 picks among 6 candidates with a fixed seed: a chi-square test against the uniform law.

    Each pick is rolled back (a savepoint) so the candidates stay the same. The critical value of
    chi-square with 5 degrees of freedom at p = 0.001 is 20.52; a biased pick (say, always the
    first or the last of the order) lands far above it.
    """
    manager = ManagerFactory()
    for order_id in range(100, 106):
        fake_end(order_id, "completed")
    fake_end(106, "cancelled")
    rng = random.Random(20261202)
    counts = dict.fromkeys(range(100, 106), 0)
    picks = 600
    for _ in range(picks):
        savepoint = db.session.begin_nested()
        counts[quality.pick_random(manager.id, quality.AuditFilters(), rng=rng).order_id] += 1
        savepoint.rollback()
    expected = picks / len(counts)
    chi_square = sum((seen - expected) ** 2 / expected for seen in counts.values())
    assert chi_square < 20.52, counts
    assert min(counts.values()) > 0


def test_us190_audit_filters_by_period_service_and_worker(db):
    from datetime import date

    manager = ManagerFactory()
    fake_end(30, "completed", at="2026-11-02T10:00:00+00:00", service_type_id=1, worker_id=1)
    fake_end(31, "completed", at="2026-11-10T10:00:00+00:00", service_type_id=2, worker_id=1)
    fake_end(32, "completed", at="2026-11-10T10:00:00+00:00", service_type_id=1, worker_id=2)
    november_week = quality.AuditFilters(date_from=date(2026, 11, 9), date_to=date(2026, 11, 15), service_type_id=1)
    assert quality.pick_random(manager.id, november_week).order_id == 32
    with pytest.raises(ValidationError):
        quality.claim(999, manager.id)
