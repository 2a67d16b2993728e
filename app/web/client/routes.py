"""The client's pages: dashboard (US-010, US-040), requesting help (US-020), the order, rebooking (US-132).

Every order is looked up together with its owner: another client's order is a 404, whatever id
is guessed, for pages, actions and photos alike.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import PAYMENT_METHODS, User
from app.extensions import db, limiter
from app.orders import pricing, service_types
from app.orders import services as orders
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.states import IllegalTransition
from app.orders.timeline import order_timeline
from app.platform.clock import company_zone
from app.platform.paging import fetch_page
from app.platform.validation import DuplicateError, ValidationError
from app.web.client.blueprint import bp
from app.web.client.forms import ERROR_FIELDS, CancelForm, OrderRequestForm, RebookForm
from app.web.core.converters import db_int
from app.web.core.errors import render_error
from app.web.core.forms import apply_errors
from app.web.core.htmx import htmx_target
from app.web.core.pagination import page_args
from app.web.shared.order_photos import order_photo_response

PER_PAGE = 20


def _me() -> User:
    return current_user._get_current_object()


def _own_order(order_id: int, *options) -> Order:
    """The current client's order, or 404 (never 403: ids must not be probed)."""
    order = db.session.scalar(
        select(Order).where(Order.id == order_id, Order.client_id == current_user.id).options(*options)
    )
    if order is None:
        abort(404)
    return order


def _discount() -> dict:
    paid = pricing.paid_total_cents(current_user.id)
    return {"paid_cents": paid, "percent": pricing.discount_percent(paid), "next": pricing.next_tier(paid)}


# ---------------------------------------------------------------- dashboard (US-010, US-040)


@bp.route("/")
def home():
    page, per_page = page_args(PER_PAGE)
    rows, has_next = fetch_page(
        select(Order)
        .where(Order.client_id == current_user.id)
        # The workers' roles are not shown: not loaded (User.role_rows is "selectin" by default).
        .options(joinedload(Order.service_type), joinedload(Order.worker).lazyload(User.role_rows))
        .order_by(Order.slot_start.desc(), Order.id.desc()),
        page,
        per_page,
    )
    return render_template(
        "client/home.html",
        orders=rows,
        page=page,
        has_next=has_next,
        discount=_discount(),
        payment_methods=PAYMENT_METHODS,
    )


# ---------------------------------------------------------------- requesting help (US-020)

# Orders a client may send (the request form and booking a no-show again share the count): one
# client made 500 orders in 9 seconds (issue 11). Counted per client account, on Redis, in each
# process's memory while Redis is down (flask-limiter's fallback, app/config.py).
ORDER_SCOPES = (("ORDER_LIMIT_PER_MINUTE", "client-orders-minute"), ("ORDER_LIMIT_PER_DAY", "client-orders-day"))


def _client_key() -> str:
    return f"client:{current_user.get_id() or 'anonymous'}"


def _order_limits(view):
    for setting, scope in ORDER_SCOPES:
        view = limiter.shared_limit(
            lambda setting=setting: current_app.config[setting], scope=scope, key_func=_client_key, methods=["POST"]
        )(view)
    return view


@bp.errorhandler(429)
def too_many_orders(error):
    """The refusal says how many were sent, since when it counts, and when the next one can go."""
    limit = limiter.current_limit
    now = time.time()
    wait = max(1, int((limit.reset_at if limit else now + 60) - now))
    at = datetime.fromtimestamp(now + wait, UTC).astimezone(company_zone())
    when = f"at {at:%H:%M}" if wait < 20 * 3600 else f"on {at:%a %d %b} at {at:%H:%M}"
    count = _per(limit.limit) if limit else "too many"
    message = (
        f"You have sent the most orders we accept in a row ({count}). You can send the next one {when}"
        f" (in {_duration(wait)}). The orders you already sent are kept; nothing from this attempt was saved."
    )
    response = current_app.make_response(render_error(429, message))
    response.headers["Retry-After"] = str(wait)
    return response


def _per(item) -> str:
    unit = item.GRANULARITY.name
    return f"{item.amount} per {unit}" if item.multiples == 1 else f"{item.amount} per {item.multiples} {unit}s"


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def _request_form(services: list[ServiceType], formdata=None) -> tuple[OrderRequestForm, ServiceType | None]:
    """The request form with its choices: the services, and the start times of the chosen one."""
    form = OrderRequestForm() if formdata is None else OrderRequestForm(formdata=formdata, meta={"csrf": False})
    form.set_service_choices(services)
    chosen = form.chosen_service(services)
    if chosen is not None and form.service_type.data is None and request.method == "GET":
        form.service_type.data = chosen.id
    form.set_day_choices()
    form.set_time_choices(chosen)
    return form, chosen


def _quote(service: ServiceType | None) -> pricing.Quote | None:
    return pricing.quote(current_user.id, service) if service is not None else None


@bp.route("/orders/new", methods=["GET", "POST"])
@_order_limits
def new_order():
    services = service_types.orderable_service_types()
    if request.method == "GET":
        form, chosen = _request_form(services, formdata=request.args)
        form.request_token.data = secrets.token_urlsafe(24)
        profile = current_user.client_profile
        form.address.data = profile.address if profile else ""
        return render_template("client/new_order.html", form=form, quote=_quote(chosen), service=chosen)

    form, chosen = _request_form(services)
    form.validate()  # parses the fields; the rules are the service's
    problems: list[str] = []
    try:
        order = orders.request_order(
            _me(),
            service_type_id=form.service_type.data,
            description=form.description.data or "",
            slot_start=form.slot_start(),
            address=form.address.data,
            request_token=form.request_token.data or None,
        )
        if form.errors:
            raise ValidationError()
    except orders.AlreadyRequested as sent:
        db.session.rollback()
        flash("You had already sent this request: here is the order it made.", "info")
        return redirect(url_for("clients.order", order_id=sent.order_id), code=303)
    except ValidationError as exc:
        db.session.rollback()
        problems = apply_errors(form, exc.errors, ERROR_FIELDS)
        return (
            render_template(
                "client/new_order.html", form=form, quote=_quote(chosen), service=chosen, problems=problems
            ),
            422,
        )
    db.session.commit()
    flash("Your request was sent. We are finding the right worker and will email you when one is matched.", "success")
    return redirect(url_for("clients.order", order_id=order.id), code=303)


def _service_from_args() -> ServiceType | None:
    service_id = request.args.get("service_type", type=db_int)
    return db.session.get(ServiceType, service_id) if service_id else None


@bp.route("/orders/quote")
def quote():
    """htmx fragment: the approximate price of the chosen service with the client's discount now."""
    service = _service_from_args()
    orderable = service is not None and not service.retired
    return render_template("client/_quote.html", quote=_quote(service) if orderable else None, service=service)


@bp.route("/orders/times")
def time_choices():
    """htmx fragment: the start-time select for the chosen service (its duration decides the last start)."""
    form, _chosen = _request_form(service_types.orderable_service_types(), formdata=request.args)
    return render_template("client/_start_field.html", form=form)


# ---------------------------------------------------------------- the order


def _order_options():
    return (
        joinedload(Order.service_type),
        joinedload(Order.worker).joinedload(User.worker_profile),
    )


def _render_order(
    order: Order, cancel_form: CancelForm | None = None, status: int = 200, problems=(), confirming: bool = False
):
    copy = _copy_of(order)
    return (
        render_template(
            "client/order.html",
            order=order,
            timeline=order_timeline(order.id, "client", current_user.id),
            cancel_form=cancel_form or CancelForm(),
            copy=copy,
            problems=problems,
            confirming=confirming,
            refresh_seconds=ORDER_REFRESH_SECONDS,
        ),
        status,
    )


def _copy_of(order: Order) -> Order | None:
    """The order booked again from this failed one (US-132), if any."""
    if order.status != OrderStatus.FAILED:
        return None
    return db.session.scalar(select(Order).where(Order.rebooked_from_id == order.id))


# How often an active order's page refreshes its changing part.
ORDER_REFRESH_SECONDS = 10


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    order = _own_order(order_id, *_order_options())
    if htmx_target() == "order-live":
        return render_template(
            "client/_order_live.html",
            order=order,
            timeline=order_timeline(order.id, "client", current_user.id),
            copy=_copy_of(order),
            refresh_seconds=ORDER_REFRESH_SECONDS,
        )
    return _render_order(order)


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
def cancel_order(order_id: int):
    order = _own_order(order_id)
    form = CancelForm()
    form.validate()
    if order.is_active and (form.reason.data or "").strip() and form.confirmed.data != "yes":
        # US-030: a cancelled order is paid; say what it will cost before it happens.
        return _render_order(_own_order(order_id, *_order_options()), form, confirming=True)
    try:
        orders.cancel(order, _me(), form.reason.data or "")
    except IllegalTransition as exc:
        db.session.rollback()
        return _render_order(
            _own_order(order_id, *_order_options()), form, 409, apply_errors(form, exc.errors, ERROR_FIELDS)
        )
    except ValidationError as exc:
        db.session.rollback()
        return _render_order(
            _own_order(order_id, *_order_options()), form, 422, apply_errors(form, exc.errors, ERROR_FIELDS)
        )
    db.session.commit()
    flash("Your order was cancelled.", "success")
    return redirect(url_for("clients.order", order_id=order_id), code=303)


@bp.route("/orders/<int:order_id>/photos/<kind>")
def order_photo(order_id: int, kind: str):
    return order_photo_response(_own_order(order_id), kind)


# ---------------------------------------------------------------- booking a no-show again (US-132)


@bp.route("/orders/<int:order_id>/rebook", methods=["GET", "POST"])
@_order_limits
def rebook_order(order_id: int):
    """The no-show email links here: only a new date and time are asked, everything else is kept."""
    failed = _own_order(order_id, joinedload(Order.service_type))
    if failed.status != OrderStatus.FAILED:
        flash("Only a failed order can be booked again.", "warning")
        return redirect(url_for("clients.order", order_id=order_id), code=303)
    copy = db.session.scalar(select(Order).where(Order.rebooked_from_id == failed.id))
    form = RebookForm()
    form.set_day_choices()
    form.set_time_choices(failed.service_type)
    status, problems = 200, []
    if request.method == "POST":
        if copy is not None:
            status = 409
        else:
            form.validate()
            try:
                new = orders.rebook(failed, _me(), form.slot_start())
                if form.errors:
                    raise ValidationError()
            except DuplicateError:
                db.session.rollback()
                copy = db.session.scalar(select(Order).where(Order.rebooked_from_id == order_id))
                status = 409
            except ValidationError as exc:
                db.session.rollback()
                problems = apply_errors(form, exc.errors, ERROR_FIELDS)
                status = 409 if isinstance(exc, IllegalTransition) else 422
            else:
                db.session.commit()
                flash("Booked again. We will match a different worker and email you.", "success")
                return redirect(url_for("clients.order", order_id=new.id), code=303)
        failed = _own_order(order_id, joinedload(Order.service_type))
    return (
        render_template("client/rebook.html", failed=failed, form=form, copy=copy, problems=problems),
        status,
    )
