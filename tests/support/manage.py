"""Helpers for manager orders tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.extensions import db as database
from app.orders import services as orders
from app.orders import slots
from app.orders.models import Order, OrderStatus
from app.platform.clock import utcnow
from app.platform.uploads import save_photo
from tests.support.images import png_upload


def next_slot(days: int = 1, index: int = 4) -> datetime:
    """A bookable slot on the `days`-th working day from today (company time zone)."""
    hours = slots.working_hours()
    day = utcnow().astimezone(hours.timezone).date()
    found = 0
    while found < days:
        day += timedelta(days=1)
        if day.weekday() in hours.days:
            found += 1
    return slots.local_slot(day, slots.slot_times(hours, 120)[index])


def make_order(
    client, service_type, *, worker=None, status=OrderStatus.REQUESTED, slot_start=None, price=None, **fields
):
    """An order row written directly (for list pages: no events needed)."""
    slot_start = slot_start or next_slot()
    order = Order(
        client=client,
        worker=worker,
        service_type=service_type,
        description=fields.pop("description", "Please help"),
        address=fields.pop("address", "1 Test Street"),
        slot_start=slot_start,
        slot_end=slot_start + timedelta(minutes=service_type.duration_minutes),
        status=status,
        price_cents=price,
        base_price_cents=price,
        **fields,
    )
    database.session.add(order)
    database.session.flush()
    return order


def matched_order(client, worker, service_type) -> Order:
    """Requested and matched through the services, so its events exist."""
    order = orders.request_order(
        client, service_type_id=service_type.id, description="Fur on the sofa", slot_start=next_slot()
    )
    orders.assign_worker(order, worker)
    return order


def completed_order(client, worker, service_type) -> Order:
    order = matched_order(client, worker, service_type)
    orders.confirm(order, worker)
    orders.issue_kit(order)
    orders.start(order, worker, save_photo(png_upload("in.png"), f"orders/{order.id}"))
    orders.complete(order, worker, save_photo(png_upload("report.png"), f"orders/{order.id}"))
    return order
