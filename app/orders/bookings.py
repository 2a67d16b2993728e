"""Who is booked when: orders with a worker that still holds them (matched, kit issued, in progress).

A worker is booked from slot start to slot end (start + the service's duration). Both questions
read the partial GiST index `ix_orders_booked_during`: only booked orders whose slot overlaps,
however many orders there are.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.orders.models import Order, OrderStatus

S = OrderStatus
BOOKED = (S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS)


def _overlapping(start: datetime, end: datetime, buffer: timedelta):
    return (
        func.tstzrange(Order.slot_start, Order.slot_end).op("&&")(func.tstzrange(start - buffer, end + buffer)),
        Order.status.in_(BOOKED),
    )


def booked_workers(
    start: datetime, end: datetime, *, exclude_order_id: int | None = None, buffer=timedelta()
) -> set[int]:
    """Workers with a booked order overlapping [start - buffer, end + buffer)."""
    query = select(Order.worker_id).where(*_overlapping(start, end, buffer), Order.worker_id.is_not(None)).distinct()
    if exclude_order_id is not None:
        query = query.where(Order.id != exclude_order_id)
    return set(db.session.scalars(query))


def clashes(worker_id: int, start: datetime, end: datetime, *, exclude_order_id: int | None = None) -> list[int]:
    """The worker's booked orders overlapping [start, end), ids in order."""
    query = (
        select(Order.id).where(*_overlapping(start, end, timedelta()), Order.worker_id == worker_id).order_by(Order.id)
    )
    if exclude_order_id is not None:
        query = query.where(Order.id != exclude_order_id)
    return list(db.session.scalars(query))
