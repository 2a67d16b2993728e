"""The worker's pages, phone first: my orders (US-140), the order, confirm, check-in and finish (US-180).

Only the assigned worker reaches an order: any other id is a 404 for pages, actions and photos.
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.extensions import db
from app.orders import services as orders
from app.orders.models import ACTIVE_STATUSES, Order, OrderStatus
from app.orders.states import IllegalTransition
from app.platform.paging import fetch_page
from app.platform.uploads import discard_photo, save_photo, send_photo
from app.platform.validation import ValidationError
from app.web.core.forms import apply_errors
from app.web.core.pagination import page_args
from app.web.shared.order_photos import order_photo_response
from app.web.work.blueprint import bp
from app.web.work.forms import CheckinForm, ReportForm

log = logging.getLogger(__name__)
S = OrderStatus
PER_PAGE = 20

# tab -> (label, statuses, soonest first?)
TABS = {
    "active": ("Active", ACTIVE_STATUSES, True),
    "completed": ("Completed", (S.COMPLETED,), False),
    "closed": ("Cancelled or failed", (S.CANCELLED, S.FAILED), False),
}

KIT_STATUS = {
    S.MATCHED: ("waiting", "Waiting for the consumables department"),
    S.KIT_ISSUED: ("ready", "Ready to collect"),
    S.IN_PROGRESS: ("collected", "Collected"),
    S.COMPLETED: ("collected", "Collected"),
}


def kit_status(order: Order) -> tuple[str, str]:
    if order.status in KIT_STATUS:
        return KIT_STATUS[S(order.status)]
    if order.kit_issued_at is not None:
        return "issued", "Issued"
    return "none", "Not needed any more"


def _me() -> User:
    return current_user._get_current_object()


def _assigned(order_id: int, *options) -> Order:
    """The current worker's order, or 404 (never 403: ids must not be probed)."""
    order = db.session.scalar(
        select(Order).where(Order.id == order_id, Order.worker_id == current_user.id).options(*options)
    )
    if order is None:
        abort(404)
    return order


# ---------------------------------------------------------------- my orders (US-140)


@bp.route("/")
def home():
    tab = request.args.get("tab", "active")
    if tab not in TABS:
        tab = "active"
    _label, statuses, soonest_first = TABS[tab]
    per_status = dict(
        db.session.execute(
            select(Order.status, func.count()).where(Order.worker_id == current_user.id).group_by(Order.status)
        ).all()
    )
    counts = {key: sum(per_status.get(status, 0) for status in spec[1]) for key, spec in TABS.items()}
    page, per_page = page_args(PER_PAGE)
    ordering = (Order.slot_start.asc(), Order.id.asc()) if soonest_first else (Order.slot_start.desc(), Order.id.desc())
    rows, has_next = fetch_page(
        select(Order)
        .where(Order.worker_id == current_user.id, Order.status.in_(statuses))
        # The clients' roles are not shown: not loaded (User.role_rows is "selectin" by default).
        .options(joinedload(Order.client).lazyload(User.role_rows), joinedload(Order.service_type))
        .order_by(*ordering),
        page,
        per_page,
    )
    return render_template(
        "work/home.html",
        tabs=TABS,
        tab=tab,
        counts=counts,
        orders=rows,
        page=page,
        has_next=has_next,
    )


# ---------------------------------------------------------------- the order (US-180)


def _render_order(order_id: int, status: int = 200, checkin=None, report=None, problems=()):
    # The client's profile carries the phone: only the assigned worker's query ever loads it.
    order = _assigned(
        order_id, joinedload(Order.client).joinedload(User.client_profile), joinedload(Order.service_type)
    )
    return (
        render_template(
            "work/order.html",
            order=order,
            kit=kit_status(order),
            checkin_form=checkin or CheckinForm(),
            report_form=report or ReportForm(),
            problems=problems,
        ),
        status,
    )


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    return _render_order(order_id)


@bp.route("/orders/<int:order_id>/confirm", methods=["POST"])
def confirm_order(order_id: int):
    order = _assigned(order_id)
    try:
        orders.confirm(order, _me())
    except ValidationError as exc:
        db.session.rollback()
        return _render_order(order_id, 409 if isinstance(exc, IllegalTransition) else 422, problems=_messages(exc))
    db.session.commit()
    flash("Confirmed. The client has been told you are coming.", "success")
    return redirect(url_for("workers.order", order_id=order_id), code=303)


def _messages(exc: ValidationError) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages]


def _photo_step(order_id: int, form, folder: str, step, done: str):
    """Save the photo, take the step; a bad photo is a 422 next to the field, an illegal step a 409."""
    order = _assigned(order_id)
    form.validate()
    saved = None
    try:
        saved = save_photo(request.files.get("photo"), folder)
        step(order, _me(), saved)
    except ValidationError as exc:
        db.session.rollback()
        discard_photo(saved)
        problems = apply_errors(form, exc.errors)
        status = 409 if isinstance(exc, IllegalTransition) else 422
        forms = {"checkin": form} if isinstance(form, CheckinForm) else {"report": form}
        return _render_order(order_id, status, problems=problems, **forms)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("workers.order", order_id=order_id), code=303)


@bp.route("/orders/<int:order_id>/start", methods=["POST"])
def start_order(order_id: int):
    return _photo_step(order_id, CheckinForm(), "checkin", orders.start, "Checked in. The job has started.")


@bp.route("/orders/<int:order_id>/complete", methods=["POST"])
def complete_order(order_id: int):
    return _photo_step(order_id, ReportForm(), "reports", orders.complete, "Done. The signed report is in; thank you!")


@bp.route("/orders/<int:order_id>/photos/<kind>")
def order_photo(order_id: int, kind: str):
    return order_photo_response(_assigned(order_id), kind)


@bp.route("/photo")
def my_photo():
    """The worker's own profile photo (US-120)."""
    profile = _me().worker_profile
    if profile is None or not profile.photo_path:
        abort(404)
    try:
        return send_photo(profile.photo_path)
    except FileNotFoundError:
        abort(404)
