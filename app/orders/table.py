"""The managers' orders table: its filters (parsed from a query string) and its two queries, the
counts per status and one page of orders, each a fixed number of statements whatever the page size."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, lazyload

from app.accounts.models import User
from app.extensions import db
from app.orders.models import Order, OrderStatus
from app.platform.clock import company_zone
from app.platform.paging import one_page, split_page

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
    def from_args(cls, args, page: int = 1) -> OrderFilters:
        """From a query string (`args.get(name, type=...)` as werkzeug's MultiDict offers)."""
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
        return cls(
            status=status if status in STATUSES else "",
            date_from=day("from"),
            date_to=day("to"),
            worker=(args.get("worker") or "").strip()[:120],
            client=(args.get("client") or "").strip()[:120],
            service_type=args.get("service_type", type=int),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            direction=direction if direction in ("asc", "desc") else DEFAULT_DIRECTION,
            page=max(1, page),
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
