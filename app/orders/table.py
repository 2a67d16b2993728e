"""The managers' orders table: its filters (parsed from a query string) and its two queries, the
counts per status and one page of orders, each a fixed number of statements whatever the page size.

Counts: without a filter other than the status, or with only whole days of slots, they are read
from app.orders.counts (a few rows kept by triggers); otherwise they are counted over the filtered
orders with an index that serves the filter, and they tell the page query which plan to take
(docs/performance.md, "Pages near the baseline"). Pages: the pager's links carry a cursor (the sort value and id
of the row next to them), so the next page starts where the last one ended whatever its depth
(keyset pagination); a page number without a cursor (an old link) still works, with an offset."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import DateTime, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.extensions import db
from app.orders import counts as status_totals
from app.orders.models import STATUS_LABELS, Order, OrderStatus, ServiceType
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
    # A keyset cursor ("<sort value>_<id>" of the row just before / after this page), or "".
    after: str = ""
    before: str = ""
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
            after=_cursor_arg(args, "after"),
            before=_cursor_arg(args, "before"),
            problems=problems,
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for url_for (empty ones left out); `changes` override fields.

        Any change drops the cursors unless it sets one: a cursor belongs to one sort and filter."""
        if changes:  # a cursor set here is the only one; no cursor set: none
            changes = {"after": "", "before": "", **changes}
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
            "after": changed.after if changed.page > 1 else "",
            "before": changed.before if changed.page > 1 else "",
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


def _cursor_arg(args, name: str) -> str:
    raw = (args.get(name) or "").strip()
    return raw if len(raw) <= 80 and "_" in raw else ""


def _cursor_value(sort: str, raw: str):
    """The sort value of a cursor, typed for its column (None: no price), or raise ValueError."""
    if sort in ("slot", "created"):
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        return parsed
    if sort == "price":
        return int(raw) if raw else None
    if raw not in STATUSES:
        raise ValueError("unknown status")
    return raw


def parse_cursor(sort: str, cursor: str) -> tuple[object, int] | None:
    """(sort value, id) of a cursor, or None for a missing or malformed one (then the page number rules)."""
    raw, _, order_id = cursor.rpartition("_")
    try:
        return _cursor_value(sort, raw), int(order_id)
    except ValueError:
        return None


def cursor_of(order, sort: str) -> str:
    """The cursor of a row of the table (an Order or a TableRow): its sort value and id."""
    value = getattr(order, SORTS[sort].key)
    if value is None:
        text = ""
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return f"{text}_{order.id}"


def _people(term: str):
    """Ids of users matching a filter: an exact id, or part of a name or email (any case).

    Written as lower(column) LIKE '%term%' so that the trigram indexes on lower(name) and
    lower(email) (migration pages_0001) serve it."""
    if term.isdigit():
        return select(User.id).where(User.id == int(term))
    escaped = term.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    # Written into the statement, not bound: a prepared statement's generic plan cannot know how
    # selective '%' || $1 || '%' is and scans every order (48 ms at 100,000 instead of 0.5).
    pattern = literal(f"%{escaped}%", literal_execute=True)
    return select(User.id).where(
        or_(func.lower(User.name).like(pattern, escape="/"), func.lower(User.email).like(pattern, escape="/"))
    )


def _slot_bounds(filters: OrderFilters) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the slot filter: whole days in the company's time zone (None: open)."""
    zone = company_zone()
    start = datetime.combine(filters.date_from, time.min, tzinfo=zone) if filters.date_from else None
    end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=zone) if filters.date_to else None
    return start, end


def _conditions(filters: OrderFilters, with_status: bool = True) -> list:
    conditions = []
    if with_status and filters.status:
        conditions.append(Order.status == filters.status)
    start, end = _slot_bounds(filters)
    # Written into the statement too: with the bounds known, the planner sees how many orders the
    # range holds (a generic plan assumes a fixed fraction whatever the range).
    if start is not None:
        conditions.append(Order.slot_start >= literal(start, DateTime(timezone=True), literal_execute=True))
    if end is not None:
        conditions.append(Order.slot_start < literal(end, DateTime(timezone=True), literal_execute=True))
    if filters.worker:
        conditions.append(Order.worker_id.in_(_people(filters.worker)))
    if filters.client:
        conditions.append(Order.client_id.in_(_people(filters.client)))
    if filters.service_type:
        conditions.append(Order.service_type_id == filters.service_type)
    return conditions


def status_counts(filters: OrderFilters) -> dict[str, int]:
    """Orders per status under every filter except the status itself.

    Without such a filter: the totals kept by triggers (app.orders.counts), a few rows. With only
    the slot's days: the hourly totals of those days, when the days begin on a whole UTC hour (the
    company's zone is a whole number of hours from UTC, as nearly all are). Otherwise one GROUP BY
    over the filtered orders (an index serves each filter: the slot range, the people, the service
    type)."""
    if not (filters.worker or filters.client or filters.service_type):
        start, end = _slot_bounds(filters)
        if start is None and end is None:
            return status_totals.status_counts()
        if all(bound is None or status_totals.on_the_hour(bound) for bound in (start, end)):
            return status_totals.slot_status_counts(start, end)
    conditions = _conditions(filters, with_status=False)
    rows = db.session.execute(select(Order.status, func.count()).where(*conditions).group_by(Order.status))
    return dict(rows.all())


def _after(column, value, order_id: int, descending: bool):
    """Rows that come after (value, id) in the order `column` (nulls last), `id` breaking ties."""
    if value is None:  # only the price: among the unpriced rows, the ids past this one
        return and_(column.is_(None), Order.id < order_id if descending else Order.id > order_id)
    past = tuple_(column, Order.id) < (value, order_id) if descending else tuple_(column, Order.id) > (value, order_id)
    return or_(past, column.is_(None)) if column is Order.price_cents else past


def _before(column, value, order_id: int, descending: bool):
    """Rows that come before (value, id) in the order `column` (nulls last), `id` breaking ties."""
    if value is None:
        return or_(column.is_not(None), Order.id > order_id if descending else Order.id < order_id)
    # A null price never satisfies a row comparison: unpriced rows are all after a priced one.
    return tuple_(column, Order.id) > (value, order_id) if descending else tuple_(column, Order.id) < (value, order_id)


# Up to this many matching orders, the page is sorted from the filter's own index rather than
# found by walking the sort's index (see orders_page).
SMALL_SET = 10_000


@dataclass(frozen=True)
class Named:
    name: str


@dataclass(frozen=True)
class TableRow:
    """What the table shows of an order, as plain values: no ORM objects to build for a list."""

    id: int
    slot_start: datetime
    created_at: datetime
    status: str
    price_cents: int | None
    discount_percent: int | None
    double_booked: bool
    service_type: Named
    client: Named
    worker: Named | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[OrderStatus(self.status)]


def orders_page(
    filters: OrderFilters, per_page: int = PER_PAGE, matching: int | None = None
) -> tuple[list[TableRow], bool]:
    """One page of orders with their client's, worker's and service's names: one statement, whatever the page size.

    The page's ids are chosen in a subquery on the orders table alone (Postgres keeps only the top
    rows of the sort, walking an index where one matches); only those rows are joined to their
    people and service type. A cursor selects the rows after (or before) it; without one the page
    number becomes an offset.

    `matching`, the number of orders the filters match (the counts know it), picks the plan:
    none, no query; a few, sorted after the filter's index found them. PostgreSQL cannot know that,
    say, matched orders all lie in the future: for "matched in the past week" it would walk the
    whole (status, created_at) index looking for rows that are not there."""
    if matching == 0:
        return [], False
    column = SORTS[filters.sort]
    descending = filters.direction == "desc"
    after = parse_cursor(filters.sort, filters.after) if filters.after and filters.page > 1 else None
    before = parse_cursor(filters.sort, filters.before) if filters.before and filters.page > 1 and not after else None
    # Walking backwards from a "before" cursor: the reverse order, then the page is turned around.
    reverse = before is not None
    forward = descending != reverse
    # coalesce(x, x) is x, but no index is ordered by it: the planner must find the rows first.
    sort_key = func.coalesce(column, column) if matching is not None and matching <= SMALL_SET else column
    ordering = sort_key.desc() if forward else sort_key.asc()
    tie = Order.id.desc() if forward else Order.id.asc()
    if filters.sort == "price":
        # Only the price can be null; NULLS LAST elsewhere would keep Postgres off the indexes.
        ordering = ordering.nulls_first() if reverse else ordering.nulls_last()
    page_ids = select(Order.id).where(*_conditions(filters)).order_by(ordering, tie)
    if after is not None:
        page_ids = page_ids.where(_after(column, *after, descending)).limit(per_page + 1)
    elif before is not None:
        page_ids = page_ids.where(_before(column, *before, descending)).limit(per_page)
    else:
        page_ids = one_page(page_ids, filters.page, per_page)
    client, worker = aliased(User), aliased(User)
    rows = db.session.execute(
        select(
            Order.id,
            Order.slot_start,
            Order.created_at,
            Order.status,
            Order.price_cents,
            Order.discount_percent,
            Order.double_booked,
            ServiceType.name,
            client.name,
            worker.name,
        )
        .join(ServiceType, ServiceType.id == Order.service_type_id)
        .join(client, client.id == Order.client_id)
        .outerjoin(worker, worker.id == Order.worker_id)
        .where(Order.id.in_(page_ids.scalar_subquery()))
        .order_by(ordering, tie)
    )
    found = [
        TableRow(*values, Named(service), Named(client_name), Named(worker_name) if worker_name is not None else None)
        for *values, service, client_name, worker_name in rows
    ]
    if reverse:
        return found[::-1], True
    return split_page(found, per_page)
