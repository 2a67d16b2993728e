"""The leaderboard (net result per bettor over a period) and the settle-up: who owes whom with the
fewest transfers, marking one as done, and the developers' pot (US-281)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.platform.clock import company_zone, utcnow
from app.platform.validation import ValidationError
from app.tote import queries, services
from app.web.tote.blueprint import bp
from app.web.tote.forms import TransferForm

PERIODS = {"week": "This week", "month": "This month", "year": "This year", "all": "All time"}


def period_start(period: str, now: datetime) -> datetime | None:
    """The start of the period in the company's time zone (None for all time)."""
    local = now.astimezone(company_zone())
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    if period == "month":
        return midnight.replace(day=1)
    if period == "year":
        return midnight.replace(month=1, day=1)
    return None


@bp.route("/leaderboard")
def leaderboard():
    period = request.args.get("period", "month")
    if period not in PERIODS:
        abort(400)
    rows = queries.leaderboard(since=period_start(period, utcnow()))
    return render_template("tote/leaderboard.html", rows=rows, period=period, periods=PERIODS)


def _party(value: str) -> int | str:
    if value == services.HOUSE:
        return services.HOUSE
    try:
        return int(value)
    except (TypeError, ValueError):
        abort(400)


def _settle_up_page(status: int = 200, problems=()):
    positions = queries.positions()
    transfers = queries.settle_up_transfers()
    names = queries.names([*positions, *(t.payer for t in transfers), *(t.payee for t in transfers)])
    names[services.HOUSE] = "The developers"
    done = queries.transfers_of(limit=50)
    names.update(queries.names([party for line in done for party in (line.payer_id, line.payee_id)]))
    forms = {}
    for transfer in transfers:
        if current_user.id in (transfer.payer, transfer.payee):
            form = TransferForm(formdata=None)
            form.payer.data, form.payee.data = transfer.payer, transfer.payee
            form.amount_cents.data = transfer.amount_cents
            form.token.data = secrets.token_urlsafe(16)
            forms[(transfer.payer, transfer.payee)] = form
    return render_template(
        "tote/settle_up.html",
        positions=positions,
        transfers=transfers,
        forms=forms,
        names=names,
        done=done,
        pot=queries.developers_pot(),
        problems=problems,
    ), status


@bp.route("/settle-up")
def settle_up():
    return _settle_up_page()


@bp.route("/settle-up/transfers", methods=["POST"])
def mark_transfer():
    form = TransferForm()
    if not form.validate():
        abort(400)
    payer = _party(form.payer.data)
    if payer == services.HOUSE:
        abort(400)
    payee = _party(form.payee.data)
    try:
        amount = int(form.amount_cents.data)
    except (TypeError, ValueError):
        abort(400)
    token = (form.token.data or "")[:64] or secrets.token_urlsafe(16)
    try:
        created = services.record_transfer(current_user, payer, payee, amount, key=f"{current_user.id}:{token}")
    except ValidationError as exc:
        db.session.rollback()
        return _settle_up_page(409, [m for messages in exc.errors.values() for m in messages])
    db.session.commit()
    if created:
        flash(f"Transfer of {amount / 100:.2f} recorded; both of you see it below.", "success")
    return redirect(url_for("bettors.settle_up"), code=303)
