"""What the consumables department's pages read: the kit queue, in a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, joinedload

from app.accounts.models import User
from app.extensions import db
from app.orders.models import Order, OrderStatus
from app.platform.paging import one_page, split_page
from app.supplies.models import CookieRequest, Kit
from app.supplies.services import NOT_NEEDED_STATUSES, kit_state

S = OrderStatus
VIEWS = {
    "to_pack": "To pack",
    "issued": "Issued",
    "not_needed": "No longer needed",
}


@dataclass(frozen=True)
class KitRow:
    kit: Kit
    cookie: CookieRequest | None

    @property
    def order(self) -> Order:
        return self.kit.order

    @property
    def state(self) -> str:
        return kit_state(self.kit)

    @property
    def cookie_status(self) -> str:
        return self.cookie.status if self.cookie is not None else "none"


def _where(query: Select, view: str) -> Select:
    if view == "issued":
        return query.where(Kit.issued_at.is_not(None))
    if view == "not_needed":
        return query.where(Kit.issued_at.is_(None), Order.status.in_([s.value for s in NOT_NEEDED_STATUSES]))
    return query.where(Kit.issued_at.is_(None), Order.status.not_in([s.value for s in NOT_NEEDED_STATUSES]))


def kit_queue(view: str = "to_pack", page: int = 1, per_page: int = 50) -> tuple[list[KitRow], bool]:
    """One page of kits (soonest slot first; issued ones latest first) and whether there is more."""
    query = (
        select(Kit, CookieRequest)
        .join(Kit.order)
        .outerjoin(CookieRequest, CookieRequest.order_id == Kit.order_id)
        .options(
            contains_eager(Kit.order).options(
                joinedload(Order.client),
                joinedload(Order.worker).joinedload(User.worker_profile),
                joinedload(Order.service_type),
            ),
            joinedload(Kit.issued_by),
        )
    )
    query = _where(query, view)
    if view == "issued":
        query = query.order_by(Kit.issued_at.desc(), Order.id.desc())
    else:
        query = query.order_by(Order.slot_start, Order.id)
    rows, has_next = split_page(db.session.execute(one_page(query, page, per_page)).unique(), per_page)
    return [KitRow(kit, cookie) for kit, cookie in rows], has_next


def kit_counts() -> dict[str, int]:
    """How many kits each view holds, in one query."""
    not_needed = Order.status.in_([s.value for s in NOT_NEEDED_STATUSES])
    row = db.session.execute(
        select(
            func.count().filter(Kit.issued_at.is_(None), ~not_needed),
            func.count().filter(Kit.issued_at.is_not(None)),
            func.count().filter(Kit.issued_at.is_(None), not_needed),
        )
        .select_from(Kit)
        .join(Kit.order)
    ).one()
    return dict(zip(VIEWS, row, strict=True))


def kit_row(order_id: int) -> KitRow | None:
    """One order's kit and cookie, or None when no kit was requested for it."""
    kit = db.session.get(Kit, order_id)
    if kit is None:
        return None
    return KitRow(kit, db.session.get(CookieRequest, order_id))
