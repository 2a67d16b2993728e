"""The live board of open pools, a pool's page and placing a bet (US-290).

The board polls a fragment (`?part=board`) every few seconds; the bet form lives outside any
polled fragment, so what the bettor types is never replaced. Forms work without JavaScript
(POST, then 303 back); with htmx the form swaps itself, errors inline (422, or 409 when closed).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.extensions import db
from app.platform.clock import utcnow
from app.platform.validation import ValidationError
from app.tote import queries, services
from app.web.core.forms import apply_errors
from app.web.core.htmx import htmx_target, is_htmx
from app.web.core.pagination import page_args
from app.web.tote.blueprint import bp
from app.web.tote.forms import BetForm

REFRESH_SECONDS = 5


@bp.route("/")
def home():
    page, per_page = page_args(50)
    now = utcnow()
    pools, has_next, open_count = queries.board(page, per_page, now=now)
    context = {
        "pools": pools,
        "has_next": has_next,
        "page": page,
        "open_count": open_count,
        "now": now,
        "refresh_seconds": REFRESH_SECONDS,
    }
    if htmx_target() == "board":
        return render_template("tote/_board.html", **context)
    return render_template(
        "tote/home.html",
        **context,
        open_stakes=queries.open_stakes(current_user.id).get(current_user.id, 0),
        pot=queries.developers_pot(),
    )


def _pool_or_404(pool_id: int) -> queries.PoolView:
    view = queries.pool_view(pool_id)
    if view is None:
        abort(404)
    return view


def _pool_context(view: queries.PoolView) -> dict:
    now = utcnow()
    return {
        "view": view,
        "pool": view.pool,
        "now": now,
        "betting_open": services.is_open(view.pool, now),
        "refresh_seconds": REFRESH_SECONDS,
    }


@bp.route("/pools/<int:pool_id>")
def pool(pool_id: int):
    view = _pool_or_404(pool_id)
    context = _pool_context(view)
    if htmx_target() == "pool-totals":
        return render_template("tote/_pool_totals.html", **context)
    return render_template(
        "tote/pool.html",
        **context,
        form=BetForm(),
        bets=queries.pool_bets(pool_id),
        settlement=queries.settlement(pool_id),
    )


@bp.route("/pools/<int:pool_id>/bets", methods=["POST"])
def place_bet(pool_id: int):
    view = _pool_or_404(pool_id)
    form = BetForm()
    try:
        bet = services.place_bet(current_user, view.pool.id, form.outcome.data or "", form.amount.data or "")
    except ValidationError as exc:
        db.session.rollback()
        status = 409 if isinstance(exc, services.BettingClosed) else 422
        problems = apply_errors(form, exc.errors, aliases={"pool": None})
        view = _pool_or_404(pool_id)
        context = _pool_context(view)
        if is_htmx():
            return render_template("tote/_bet_form.html", **context, form=form, problems=problems), status
        return render_template(
            "tote/pool.html",
            **context,
            form=form,
            problems=problems,
            bets=queries.pool_bets(pool_id),
            settlement=queries.settlement(pool_id),
        ), status
    db.session.commit()
    notice = f"Bet placed: {bet.amount_cents / 100:.2f} on {bet.outcome}."
    if is_htmx():
        return render_template(
            "tote/_bet_form.html", **_pool_context(_pool_or_404(pool_id)), form=BetForm(formdata=None), notice=notice
        )
    flash(notice, "success")
    return redirect(url_for("bettors.pool", pool_id=pool_id), code=303)
