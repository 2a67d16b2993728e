"""My bets: open ones with withdraw, settled ones with what each paid (US-290)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.platform.clock import utcnow
from app.tote import queries, services
from app.web.core.navigation import local_path
from app.web.core.pagination import page_args
from app.web.tote.blueprint import bp


@bp.route("/my")
def my_bets():
    page, per_page = page_args(25)
    settled, has_next = queries.my_settled_bets(current_user.id, page, per_page)
    return render_template(
        "tote/my_bets.html",
        open_bets=queries.my_open_bets(current_user.id),
        settled=settled,
        has_next=has_next,
        page=page,
        balance=queries.balance_of(current_user.id),
        position=queries.my_position(current_user.id),
        now=utcnow(),
        is_open=services.is_open,
    )


@bp.route("/bets/<int:bet_id>/withdraw", methods=["POST"])
def withdraw(bet_id: int):
    back = local_path(request.form.get("next")) or url_for("bettors.my_bets")
    try:
        bet = services.withdraw_bet(current_user, bet_id)
    except LookupError:
        abort(404)  # not yours, or no such bet: the same answer
    except services.BettingClosed as exc:
        db.session.rollback()
        flash(" ".join(m for messages in exc.errors.values() for m in messages), "error")
        return redirect(back, code=303)
    db.session.commit()
    flash(f"Bet of {bet.amount_cents / 100:.2f} on order #{bet.pool.order_id} withdrawn; the stake is back.", "success")
    return redirect(back, code=303)
