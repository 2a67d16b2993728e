"""`flask demo load`: service types and a week of orders in every status, once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.events.models import Event, HandledEvent
from app.matching.models import MatchRun
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.queries import timeline
from app.platform.clock import utcnow
from app.supplies.models import CookieRequest, Kit
from tests.support.web import config_values


def _load(app):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_load_gives_orders_in_every_status_once(app, db, tmp_path):
    """US-021/US-050: the catalogue at 100 units; orders in every status; a second load adds nothing."""
    with config_values(app, UPLOAD_DIR=str(tmp_path)):
        assert "demo data loaded" in _load(app)
        db.session.expire_all()
        statuses = dict(db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        assert set(statuses) == {status.value for status in OrderStatus}, statuses
        counts = (
            db.session.scalar(select(func.count()).select_from(Order)),
            db.session.scalar(select(func.count()).select_from(ServiceType)),
            db.session.scalar(select(func.count()).select_from(Event)),
        )
        assert "already present" in _load(app)
        db.session.expire_all()
        assert counts == (
            db.session.scalar(select(func.count()).select_from(Order)),
            db.session.scalar(select(func.count()).select_from(ServiceType)),
            db.session.scalar(select(func.count()).select_from(Event)),
        )

    types = list(db.session.scalars(select(ServiceType)))
    assert len(types) >= 5
    assert all(t.base_price_cents == 100_00 and t.consumables and t.skills for t in types)

    now = utcnow()
    completed = list(db.session.scalars(select(Order).where(Order.status == "completed")))
    assert completed and all(o.price_cents == 100_00 and o.slot_start < now and o.report_photo for o in completed)
    cancelled = list(db.session.scalars(select(Order).where(Order.status == "cancelled")))
    assert cancelled and all(o.finish_reason for o in cancelled)
    # The latest no-show (the billing history has older ones): its client booked a copy (US-132).
    failed = db.session.scalar(select(Order).where(Order.status == "failed").order_by(Order.finished_at.desc()))
    assert failed.finish_reason == "no_show"
    copy = db.session.scalar(select(Order).where(Order.rebooked_from_id == failed.id))
    assert copy is not None and copy.worker_id not in (None, failed.worker_id) and copy.slot_start > now
    in_progress = db.session.scalar(select(Order).where(Order.status == "in_progress"))
    assert in_progress.checkin_photo and in_progress.slot_start.date() <= now.date()
    upcoming = list(db.session.scalars(select(Order).where(Order.status.in_(["matched", "kit_issued"]))))
    assert all(o.slot_start > now for o in upcoming)
    # The supply page has content: kits and cookies for the matched and issued orders.
    for order in upcoming:
        assert db.session.get(Kit, order.id) is not None and db.session.get(CookieRequest, order.id) is not None
    issued = [o for o in upcoming if o.status == "kit_issued"]
    assert issued and all(db.session.get(Kit, o.id).issued_at for o in issued)
    # Upcoming orders went through the real matching, so a manager can see why.
    assert db.session.scalar(select(func.count()).select_from(MatchRun)) >= len(upcoming) - 1

    # A past order's timeline reads like it happened: its events at the story's times.
    story = timeline(completed[0].id)
    assert [e.type for e in story] == [
        "order.requested",
        "order.matched",
        "order.confirmed",
        "order.kit_issued",
        "order.started",
        "order.completed",
    ]
    assert story[-1].created_at < now and story[-1].payload["at"] == story[-1].created_at.isoformat()
    # ... and no mail goes out about last week: the history is handled for notifications.
    handled = db.session.scalar(
        select(func.count()).select_from(HandledEvent).where(HandledEvent.consumer == "notifications")
    )
    assert handled >= len(story)
