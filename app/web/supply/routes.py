"""The consumables department's pages (US-150, US-160, US-170): the kit queue, the printable job
acceptance form, "Cookie received" and "Issued".

Every step works without JavaScript (POST, then 303 back to the queue); with htmx the row swaps
itself. Issuing a kit whose cookie hasn't arrived asks first: a second step carrying confirm=1.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.orders.models import Order
from app.orders.states import IllegalTransition
from app.supplies import queries
from app.supplies import services as supplies
from app.web.core.htmx import htmx_target, is_htmx
from app.web.core.pagination import page_args
from app.web.supply.blueprint import bp


def _order_or_404(order_id: int) -> tuple[Order, queries.KitRow]:
    """Only orders with a kit request exist for the department; anything else is 404."""
    row = queries.kit_row(order_id)
    if row is None:
        abort(404)
    return row.order, row


# How often the queue refreshes itself.
QUEUE_REFRESH_SECONDS = 15


def _changed(html: str):
    """A row's new state, and a `kits-changed` event that makes the queue refresh its counts."""
    response = make_response(html)
    response.headers["HX-Trigger"] = "kits-changed"
    return response


def _messages(exc: IllegalTransition) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages]


def _back(show: str | None = None):
    show = show if show in queries.VIEWS else None
    return redirect(url_for("supply.home", show=show) if show else url_for("supply.home"), code=303)


@bp.route("/")
def home():
    show = request.args.get("show", "to_pack")
    if show not in queries.VIEWS:
        abort(400)
    page, per_page = page_args(50)
    rows, has_next = queries.kit_queue(show, page, per_page)
    return render_template(
        "supply/_queue.html" if htmx_target() == "kit-queue" else "supply/home.html",
        rows=rows,
        has_next=has_next,
        page=page,
        show=show,
        views=queries.VIEWS,
        counts=queries.kit_counts(),
        refresh_seconds=QUEUE_REFRESH_SECONDS,
    )


@bp.route("/orders/<int:order_id>")
def job_form(order_id: int):
    """The printable job acceptance form that goes into the kit (US-160)."""
    _order, row = _order_or_404(order_id)
    return render_template("supply/job_form.html", row=row)


def _refused(row: queries.KitRow, exc: IllegalTransition):
    db.session.rollback()
    row = queries.kit_row(row.order.id)
    if is_htmx():
        return render_template("supply/_kit_row.html", row=row, errors=_messages(exc)), 422
    return render_template("supply/refused.html", row=row, errors=_messages(exc)), 422


@bp.route("/orders/<int:order_id>/cookie", methods=["POST"])
def cookie_received(order_id: int):
    order, row = _order_or_404(order_id)
    try:
        supplies.mark_cookie_received(order, current_user)
    except IllegalTransition as exc:
        return _refused(row, exc)
    db.session.commit()
    if is_htmx():
        return _changed(
            render_template("supply/_kit_row.html", row=queries.kit_row(order_id), notice="Cookie received.")
        )
    flash(f"The cookie for order #{order_id} is in the warehouse.", "success")
    return _back(request.form.get("show"))


@bp.route("/orders/<int:order_id>/issue", methods=["POST"])
def issue(order_id: int):
    order, row = _order_or_404(order_id)
    confirmed = request.form.get("confirm") == "1"
    try:
        supplies.issue(order, current_user, confirm_without_cookie=confirmed)
    except supplies.CookieNotReceived as exc:
        db.session.rollback()
        row = queries.kit_row(order_id)
        template = "supply/_kit_row.html" if is_htmx() else "supply/confirm_issue.html"
        return render_template(template, row=row, confirm=True, question=_messages(exc)[0])
    except IllegalTransition as exc:
        return _refused(row, exc)
    db.session.commit()
    message = f"Kit for order #{order_id} issued; {order.worker.name if order.worker else 'the worker'} is told."
    if is_htmx():
        return _changed(render_template("supply/_kit_row.html", row=queries.kit_row(order_id), notice="Issued."))
    flash(message, "success")
    return _back(request.form.get("show"))
