"""The managers' orders dashboard: counts per status, a filtered, sortable, paginated table that
refreshes in place, and the order page with its timeline, photos, matching explanation and the
manager's actions (reassign, cancel, mark failed).

The table is one htmx fragment (`managers/_orders_results.html`): the filter form swaps it with
`hx-get` and pushes the URL, and the fragment polls its own URL, so a refresh keeps the filters.
Each list query eager-loads the client, worker and service type: the number of statements does
not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, lazyload

from app.accounts.models import User, UserRole
from app.events.models import Event
from app.extensions import db
from app.matching.services import latest_run
from app.orders import services as order_services
from app.orders.models import STATUS_LABELS, Order, OrderStatus, ServiceType
from app.orders.queries import timeline
from app.platform.clock import company_zone
from app.platform.money import format_money
from app.platform.paging import one_page, split_page
from app.platform.validation import ValidationError
from app.supplies.models import CookieRequest, Kit
from app.web.core.forms import apply_errors
from app.web.core.htmx import is_htmx
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp
from app.web.manage.forms import ReasonForm, ReassignForm
from app.web.shared.order_photos import order_photo_response

STATUSES = [status.value for status in OrderStatus]
# The columns the table may be sorted by (nothing else reaches ORDER BY).
SORTS = {
    "slot": Order.slot_start,
    "created": Order.created_at,
    "status": Order.status,
    "price": Order.price_cents,
}
# Newest requests first: what a refreshing dashboard wants on top (and the created_at index serves it).
DEFAULT_SORT, DEFAULT_DIRECTION = "created", "desc"
PER_PAGE = 25
REFRESH_SECONDS = 12


# ---------------------------------------------------------------- the table's filters


@dataclass(frozen=True)
class OrderFilters:
    """What the table shows, parsed from the query string (anything unknown falls back to a default)."""

    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    worker: str = ""  # a worker's id, or part of their name or email
    client: str = ""
    service_type: int | None = None
    sort: str = DEFAULT_SORT
    direction: str = DEFAULT_DIRECTION
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_args(cls, args) -> OrderFilters:
        problems = {}

        def day(name: str) -> date | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                problems[name] = "Use a date like 2025-01-31."
                return None

        status = args.get("status", "")
        sort = args.get("sort", DEFAULT_SORT)
        direction = args.get("dir", DEFAULT_DIRECTION)
        page, _ = page_args(PER_PAGE)
        return cls(
            status=status if status in STATUSES else "",
            date_from=day("from"),
            date_to=day("to"),
            worker=(args.get("worker") or "").strip()[:120],
            client=(args.get("client") or "").strip()[:120],
            service_type=args.get("service_type", type=int),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            direction=direction if direction in ("asc", "desc") else DEFAULT_DIRECTION,
            page=page,
            problems=problems,
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for url_for (empty ones left out); `changes` override fields."""
        changed = replace(self, **changes) if changes else self
        values = {
            "status": changed.status,
            "from": changed.date_from.isoformat() if changed.date_from else "",
            "to": changed.date_to.isoformat() if changed.date_to else "",
            "worker": changed.worker,
            "client": changed.client,
            "service_type": changed.service_type,
            "sort": changed.sort if changed.sort != DEFAULT_SORT else "",
            "dir": changed.direction if changed.direction != DEFAULT_DIRECTION else "",
            "page": changed.page if changed.page > 1 else "",
        }
        return {key: value for key, value in values.items() if value not in ("", None)}

    def sorted_by(self, column: str) -> dict:
        """Arguments for a column header: sort by it, or flip the direction if it is the current one."""
        if column == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = "asc" if column == "status" else "desc"
        return self.args(sort=column, direction=direction, page=1)

    @property
    def any(self) -> bool:
        return bool(self.status or self.date_from or self.date_to or self.worker or self.client or self.service_type)


def _people(term: str):
    """Ids of users matching a filter: an exact id, or part of a name or email."""
    if term.isdigit():
        return select(User.id).where(User.id == int(term))
    return select(User.id).where(
        or_(User.name.icontains(term, autoescape=True), User.email.icontains(term, autoescape=True))
    )


def _conditions(filters: OrderFilters, with_status: bool = True) -> list:
    zone = company_zone()
    conditions = []
    if with_status and filters.status:
        conditions.append(Order.status == filters.status)
    if filters.date_from:
        conditions.append(Order.slot_start >= datetime.combine(filters.date_from, time.min, tzinfo=zone))
    if filters.date_to:
        conditions.append(
            Order.slot_start < datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=zone)
        )
    if filters.worker:
        conditions.append(Order.worker_id.in_(_people(filters.worker)))
    if filters.client:
        conditions.append(Order.client_id.in_(_people(filters.client)))
    if filters.service_type:
        conditions.append(Order.service_type_id == filters.service_type)
    return conditions


def status_counts(filters: OrderFilters) -> dict[str, int]:
    """Orders per status under every filter except the status itself (one GROUP BY)."""
    rows = db.session.execute(
        select(Order.status, func.count()).where(*_conditions(filters, with_status=False)).group_by(Order.status)
    )
    return dict(rows.all())


def orders_page(filters: OrderFilters, per_page: int = PER_PAGE) -> tuple[list[Order], bool]:
    """One page of orders with client, worker and service type loaded: two statements, whatever the page size.

    The page's ids are chosen first on the orders table alone (Postgres keeps only the top rows of
    the sort), then those rows are loaded with their people and service type joined.
    """
    column = SORTS[filters.sort]
    ordering = column.asc() if filters.direction == "asc" else column.desc()
    tie = Order.id.asc() if filters.direction == "asc" else Order.id.desc()
    page_ids = (
        select(Order.id)
        .where(*_conditions(filters))
        # Only the price can be null; NULLS LAST elsewhere would keep Postgres off the (status, slot) index.
        .order_by(ordering.nulls_last() if filters.sort == "price" else ordering, tie)
    )
    ids, has_next = split_page(db.session.scalars(one_page(page_ids, filters.page, per_page)), per_page)
    if not ids:
        return [], False
    rows = db.session.scalars(
        select(Order)
        .options(
            joinedload(Order.client).options(lazyload(User.role_rows)),
            joinedload(Order.worker).options(lazyload(User.role_rows)),
            joinedload(Order.service_type),
        )
        .where(Order.id.in_(ids))
    )
    by_id = {order.id: order for order in rows}
    return [by_id[order_id] for order_id in ids if order_id in by_id], has_next


def _results_context(filters: OrderFilters) -> dict:
    counts = status_counts(filters)
    rows, has_next = orders_page(filters)
    total = counts.get(filters.status, 0) if filters.status else sum(counts.values())
    return {
        "filters": filters,
        "orders": rows,
        "has_next": has_next,
        "counts": counts,
        "total": total,
        "statuses": [(status, STATUS_LABELS[OrderStatus(status)]) for status in STATUSES],
        "refresh_seconds": REFRESH_SECONDS,
    }


@bp.route("/orders")
def orders():
    filters = OrderFilters.from_args(request.args)
    context = _results_context(filters)
    if is_htmx():
        return render_template("manage/_orders_fragment.html", **context)
    service_types = list(db.session.scalars(select(ServiceType).order_by(ServiceType.name)))
    return render_template("manage/orders.html", service_types=service_types, **context)


# ---------------------------------------------------------------- one order


def _user_names(ids) -> dict:
    """{id: name} for the given user ids, in one query (keys as int and as str for JSON-born ids)."""
    wanted = {int(value) for value in ids if value is not None and str(value).isdigit()}
    if not wanted:
        return {}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())
    return {**names, **{str(key): value for key, value in names.items()}}


def _slot_text(payload: dict) -> str:
    start = payload.get("slot_start")
    if not start:
        return ""
    zone = company_zone()
    try:
        return datetime.fromisoformat(start).astimezone(zone).strftime("%a %d %b %Y %H:%M")
    except ValueError:
        return start


def describe(event: Event, names: dict) -> str:
    """A readable sentence for one event of the order's timeline."""
    payload = event.payload or {}

    def who(key: str) -> str:
        value = payload.get(key)
        return names.get(value, f"user #{value}") if value is not None else "someone"

    kind = event.type
    if kind == "order.requested":
        text = f"Requested by {who('client_id')}: {payload.get('service') or 'a service'}, {_slot_text(payload)}"
        if payload.get("rebooked_from_id"):
            text += f" (a copy of failed order #{payload['rebooked_from_id']})"
        return text + "."
    if kind == "order.matched":
        price = format_money(payload.get("price_cents"))
        discount = f", {payload['discount_percent']}% discount" if payload.get("discount_percent") else ""
        return f"Matched to {who('worker_id')}; price fixed at {price}{discount}."
    if kind == "order.reassigned":
        return (
            f"Reassigned from {who('previous_worker_id')} to {who('worker_id')} by {who('by_user_id')}: "
            f"{payload.get('reason', '')}"
        )
    if kind == "order.confirmed":
        return f"{who('worker_id')} confirmed the assignment."
    if kind == "order.kit_issued":
        return f"The kit was issued to {who('worker_id')}."
    if kind == "order.started":
        return f"{who('worker_id')} checked in with a photo and started."
    if kind == "order.completed":
        return f"{who('worker_id')} finished and uploaded the signed report."
    if kind == "order.cancelled":
        return f"Cancelled by {who('by_user_id')}: {payload.get('reason', '')}"
    if kind == "order.failed":
        reason = payload.get("reason", "")
        if reason == order_services.NO_SHOW_REASON:
            return f"Failed automatically: {who('worker_id')} did not check in (no-show)."
        by = f" by {who('by_user_id')}" if payload.get("by_user_id") else ""
        return f"Marked failed{by}: {reason}"
    label = kind.split(".", 1)[-1].replace("_", " ")
    return label[:1].upper() + label[1:] + "."


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


def _order_page(order_id: int, status: int = 200, **forms):
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
    events = timeline(order.id)
    run = latest_run(order.id)
    ids = {order.client_id, order.worker_id}
    for event in events:
        payload = event.payload or {}
        ids.update(payload.get(key) for key in ("client_id", "worker_id", "previous_worker_id", "by_user_id"))
    if run is not None:
        ids.update((run.scores or {}).keys())
        ids.add(run.chosen_worker_id)
    names = _user_names(ids)
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
            events=[(event, describe(event, names)) for event in events],
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
        ),
        status,
    )


@bp.route("/orders/<int:order_id>")
def order_detail(order_id: int):
    return _order_page(order_id)


def _act(order_id: int, form, form_name: str, action, done: str):
    """Run one manager action on the order: 303 back to it, or the page with the message (422)."""
    order = db.get_or_404(Order, order_id)
    if not form.validate_on_submit():
        return _order_page(order_id, 422, **{form_name: form})
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
    )


@bp.route("/orders/<int:order_id>/photos/<kind>")
def order_photo(order_id: int, kind: str):
    """The order's photos, for managers only (the blueprint's rule)."""
    return order_photo_response(db.get_or_404(Order, order_id), kind)
