"""The tote's demo (US-280, US-281, US-290): three bettors, bets on open orders, a settled history
with a pool nobody won, all learnt from the orders' events; loaded once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import UserRole
from app.events.models import Event, HandledEvent
from app.notifications.models import OutboxEmail
from app.platform.clock import utcnow
from app.tote import ledger, queries
from app.tote.models import Bet, Pool, Settlement
from tests.support.web import config_values


def test_us281_the_demo_has_bettors_open_bets_and_a_settled_history_with_a_no_winner_pool(app, db, tmp_path):
    with config_values(app, UPLOAD_DIR=str(tmp_path)):
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        bets_after_first_load = db.session.scalar(select(func.count()).select_from(Bet))
        assert "already present" in app.test_cli_runner().invoke(args=["demo", "load"]).output
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Bet)) == bets_after_first_load
    bettors = db.session.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == "bettor"))
    assert bettors == 3
    # Every order the tote knows it learnt from an order.requested event, and it handled them all.
    requested = db.session.scalar(select(func.count()).select_from(Event).where(Event.type == "order.requested"))
    assert db.session.scalar(select(func.count()).select_from(Pool)) == requested
    pending = (
        select(func.count())
        .select_from(Event)
        .where(Event.type.like("order.%"), Event.type.in_(["order.requested", "order.started", "order.completed"]))
        .where(~Event.id.in_(select(HandledEvent.event_id).where(HandledEvent.consumer == "tote")))
    )
    assert db.session.scalar(pending) == 0
    settled_with_bets = db.session.scalar(select(func.count()).select_from(Settlement).where(Settlement.pot_cents > 0))
    assert settled_with_bets >= 4
    assert queries.developers_pot().won_cents > 0  # the no-winner pool
    open_views, _more, _count = queries.board(1, 50, now=utcnow())
    assert sum(1 for view in open_views if view.pot) >= 2
    assert ledger.unbalanced_transactions() == []
    assert sum(queries.positions().values()) == 0
    assert db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.template == "tote_settled")
    )
