"""The order's events (app.orders.queries.timeline) as sentences a client understands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.accounts.models import User
from app.events.models import Event
from app.extensions import db
from app.orders.queries import timeline
from app.orders.services import NO_SHOW_REASON
from app.platform.money import format_money


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # the status or step, for the CSS class
    text: str


def _names(events: list[Event]) -> dict[int, str]:
    ids = {event.payload.get(key) for event in events for key in ("worker_id", "by_user_id")}
    ids.discard(None)
    if not ids:
        return {}
    return {user_id: name for user_id, name in db.session.execute(select(User.id, User.name).where(User.id.in_(ids)))}


def _describe(event: Event, names: dict[int, str], viewer_id: int) -> str | None:
    payload = event.payload or {}
    worker = names.get(payload.get("worker_id"), "the worker")
    kind = event.type.removeprefix("order.")
    reason = (payload.get("reason") or "").strip()
    if kind == "requested":
        source = payload.get("rebooked_from_id")
        return f"Requested (a new booking of order #{source})" if source else "Requested"
    if kind == "matched":
        price = payload.get("price_cents")
        fixed = f"; the price is fixed at {format_money(price)}" if price is not None else ""
        return f"{worker} was matched to your order{fixed}"
    if kind == "confirmed":
        return f"{worker} confirmed they are coming"
    if kind == "reassigned":
        return f"Your order was given to {worker}"
    if kind == "kit_issued":
        return "The consumables kit was issued to the worker"
    if kind == "started":
        return f"{worker} checked in and started"
    if kind == "completed":
        return "Completed: the signed report was handed in"
    if kind == "cancelled":
        by = payload.get("by_user_id")
        who = "you" if by == viewer_id else "a manager" if by else "us"
        return f"Cancelled by {who}" + (f": {reason}" if reason else "")
    if kind == "failed":
        if reason == NO_SHOW_REASON:
            return "Failed: the worker did not come"
        return "Failed" + (f": {reason}" if reason else "")
    return None  # steps the client has no use for


def client_timeline(order_id: int, viewer_id: int) -> list[Entry]:
    events = timeline(order_id)
    names = _names(events)
    entries = []
    for event in events:
        text = _describe(event, names, viewer_id)
        if text:
            entries.append(Entry(event.created_at, event.type.removeprefix("order."), text))
    return entries
