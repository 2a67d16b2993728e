"""The quality demo (US-190, US-200, US-210): a queue of unreviewed failed and cancelled orders,
reviewed ones and random audits, hypotheses in several statuses with evidence; loaded once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.events.models import Event, HandledEvent
from app.notifications.models import OutboxEmail
from app.quality import queries
from app.quality.models import Audit, HypothesisEntry, QualityOrder, QueueItem, Review
from tests.support.web import config_values


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_us200_us210_demo_has_a_queue_reviews_audits_and_hypotheses_once(app, db, tmp_path):
    with config_values(app, UPLOAD_DIR=str(tmp_path)):
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        ended_events = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.type.in_(("order.cancelled", "order.failed")))
        )
        assert _count(db, QualityOrder) > 20
        items = list(db.session.scalars(select(QueueItem)))
        ended_items = [item for item in items if item.source == "ended"]
        assert len(ended_items) == ended_events, "every failed or cancelled order of the demo is queued"
        unreviewed = [item for item in ended_items if item.review is None]
        assert len(unreviewed) >= 3 and any(item.order.no_show for item in ended_items)
        assert _count(db, Review) >= 10
        assert [item for item in items if item.source == "audit" and item.review is not None]
        assert _count(db, Audit) >= 1
        board = queries.hypotheses_board()
        assert {row.hypothesis.status for row in board} == {"proposed", "testing", "confirmed", "rejected"}
        assert any(row.supporting >= 2 for row in board)
        assert _count(db, HypothesisEntry) > len(board)
        assert (
            db.session.scalar(
                select(func.count()).select_from(OutboxEmail).where(OutboxEmail.template.like("quality_result_%"))
            )
            == 0
        ), "past reviews mail nobody"
        weeks = [week for week in queries.weekly(12) if week.reviews]
        assert len(weeks) >= 3, "the reviews are spread over the weeks"
        handled = db.session.scalar(
            select(func.count()).select_from(HandledEvent).where(HandledEvent.consumer == "quality")
        )
        assert handled >= _count(db, QualityOrder)

        counts = (_count(db, Review), _count(db, QueueItem), _count(db, Audit))
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        assert (_count(db, Review), _count(db, QueueItem), _count(db, Audit)) == counts
