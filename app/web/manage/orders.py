"""The managers' orders dashboard: counts per status, a filtered, sortable, paginated table that
refreshes in place, and the order page with its timeline, photos, matching explanation and the
manager's actions (reassign, cancel, mark failed).

The table is one htmx fragment (`manage/_orders_fragment.html`; its filters and queries are in
app.orders.table): the filter form swaps it with `hx-get` and pushes the URL, and the fragment
polls its own URL, so a refresh keeps the filters.
The table's page is one statement that joins the client, worker and service type names: the
number of statements does not grow with the number of rows.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from app.accounts.models import User, UserRole
from app.extensions import db
from app.matching.services import latest_run
from app.orders import services as order_services
from app.orders.models import STATUS_LABELS, Order, OrderStatus, ServiceType
from app.orders.table import PER_PAGE, STATUSES, OrderFilters, cursor_of, orders_page, status_counts
from app.orders.timeline import order_timeline, user_names
from app.platform.validation import ValidationError
from app.supplies.models import CookieRequest, Kit
from app.web.core.forms import apply_errors
from app.web.core.htmx import is_htmx
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp
from app.web.manage.forms import ReasonForm, ReassignForm
from app.web.shared.order_photos import order_photo_response

# How often the table refreshes itself (the fragment polls its own URL).
REFRESH_SECONDS = 12


def _results_context(filters: OrderFilters) -> dict:
    counts = status_counts(filters)
    total = counts.get(filters.status, 0) if filters.status else sum(counts.values())
    rows, has_next = orders_page(filters, matching=total)
    return {
        "filters": filters,
        "orders": rows,
        "has_next": has_next,
        # The pager's links start next to these rows (keyset pages; see app.orders.table).
        "next_cursor": cursor_of(rows[-1], filters.sort) if rows else "",
        "prev_cursor": cursor_of(rows[0], filters.sort) if rows else "",
        "counts": counts,
        "total": total,
        "statuses": [(status, STATUS_LABELS[OrderStatus(status)]) for status in STATUSES],
        "refresh_seconds": REFRESH_SECONDS,
    }


@bp.route("/orders")
def orders():
    filters = OrderFilters.from_args(request.args, page_args(PER_PAGE)[0])
    context = _results_context(filters)
    if is_htmx():
        return render_template("manage/_orders_fragment.html", **context)
    service_types = list(db.session.scalars(select(ServiceType).order_by(ServiceType.name)))
    return render_template("manage/orders.html", service_types=service_types, **context)


# ---------------------------------------------------------------- one order


def _active_workers() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == "worker", User.active.is_(True))
            .options(lazyload(User.role_rows))
            .order_by(User.name, User.id)
        )
    )


def _order_page(order_id: int, status: int = 200, confirming: str = "", **forms):
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(
            joinedload(Order.client).joinedload(User.client_profile),
            joinedload(Order.worker),
            joinedload(Order.service_type),
            joinedload(Order.finished_by),
            joinedload(Order.rebooked_from),
        )
    )
    if order is None:
        abort(404)
    run = latest_run(order.id)
    ids = {order.client_id, order.worker_id}
    if run is not None:
        ids.update((run.scores or {}).keys())
        ids.add(run.chosen_worker_id)
    names = user_names(ids)
    workers = _active_workers() if order.status in (OrderStatus.MATCHED, OrderStatus.KIT_ISSUED) else []
    reassign_form = forms.get("reassign_form") or ReassignForm(formdata=None)
    reassign_form.worker.choices = [(0, "Choose a worker")] + [
        (worker.id, f"{worker.name} <{worker.email}>") for worker in workers if worker.id != order.worker_id
    ]
    copy = db.session.scalar(select(Order).where(Order.rebooked_from_id == order.id))
    return (
        render_template(
            "manage/order.html",
            order=order,
            timeline=order_timeline(order.id, "manager"),
            run=run,
            worker_names=names,
            kit=db.session.get(Kit, order.id),
            cookie=db.session.get(CookieRequest, order.id),
            copy=copy,
            reassign_form=reassign_form,
            cancel_form=forms.get("cancel_form") or ReasonForm(formdata=None, prefix="cancel"),
            fail_form=forms.get("fail_form") or ReasonForm(formdata=None, prefix="fail"),
            can_reassign=order.status in (OrderStatus.MATCHED, OrderStatus.KIT_ISSUED),
            can_finish=order.is_active,
            confirming=confirming,
            fine_cents=current_app.config["FAILED_ORDER_FINE_CENTS"],
        ),
        status,
    )


@bp.route("/orders/<int:order_id>")
def order_detail(order_id: int):
    return _order_page(order_id)


def _act(order_id: int, form, form_name: str, action, done: str, confirm: bool = False):
    """Run one manager action on the order: 303 back to it, or the page with the message (422).

    With `confirm`, a first valid submit shows what the action will cost and asks again."""
    order = db.get_or_404(Order, order_id)
    if not form.validate_on_submit():
        return _order_page(order_id, 422, **{form_name: form})
    if confirm and order.is_active and (form.reason.data or "").strip() and form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        return _order_page(order_id, 200, confirming=form_name, **{form_name: form})
    try:
        action(order)
    except ValidationError as exc:
        db.session.rollback()
        form.form_errors.extend(apply_errors(form, exc.errors))
        return _order_page(order_id, 422, **{form_name: form})
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("managers.order_detail", order_id=order_id), code=303)


@bp.route("/orders/<int:order_id>/reassign", methods=["POST"])
def reassign_order(order_id: int):
    form = ReassignForm()
    form.worker.choices = []  # any id; the service checks it is an active worker

    def action(order: Order) -> None:
        worker = db.session.get(User, form.worker.data) if form.worker.data else None
        if worker is None:
            raise ValidationError(worker="Choose an active worker.")
        order_services.reassign(order, worker, form.reason.data, current_user._get_current_object())

    return _act(order_id, form, "reassign_form", action, "The order was reassigned; the new worker is told.")


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
def cancel_order(order_id: int):
    form = ReasonForm(prefix="cancel")
    return _act(
        order_id,
        form,
        "cancel_form",
        lambda order: order_services.cancel(order, current_user._get_current_object(), form.reason.data),
        "The order was cancelled.",
        confirm=True,
    )


@bp.route("/orders/<int:order_id>/fail", methods=["POST"])
def fail_order(order_id: int):
    form = ReasonForm(prefix="fail")
    return _act(
        order_id,
        form,
        "fail_form",
        lambda order: order_services.fail(order, form.reason.data, current_user._get_current_object()),
        "The order was marked failed.",
        confirm=True,
    )


@bp.route("/orders/<int:order_id>/photos/<kind>")
def order_photo(order_id: int, kind: str):
    """The order's photos, for managers only (the blueprint's rule)."""
    return order_photo_response(db.get_or_404(Order, order_id), kind)
