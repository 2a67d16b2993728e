"""An order's timeline (its events, oldest first) worded for the person reading it.

Audiences: `manager` (every event, with who did it: the order page, quality reviews) and `client`
(what they need to know, in their words: the client's order page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from app.accounts.models import User
from app.events.models import Event
from app.extensions import db
from app.orders.queries import timeline
from app.orders.services import KIT_NOT_ISSUED_REASON, NO_SHOW_REASON
from app.platform.clock import company_zone
from app.platform.money import format_money

Audience = Literal["manager", "client"]
PEOPLE_KEYS = ("client_id", "worker_id", "previous_worker_id", "by_user_id")


@dataclass(frozen=True)
class Entry:
    event_id: int
    at: datetime
    type: str  # the event type, e.g. order.matched
    kind: str  # the step without its prefix, for the CSS class
    text: str


def user_names(ids) -> dict:
    """{id: name} for the given user ids, in one query (keys as int and as str for JSON-born ids)."""
    wanted = {int(value) for value in ids if value is not None and str(value).isdigit()}
    if not wanted:
        return {}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())
    return {**names, **{str(key): value for key, value in names.items()}}


def order_timeline(order_id: int, audience: Audience, viewer_id: int | None = None) -> list[Entry]:
    """The order's events as entries for `audience`; `viewer_id` lets a client read "you"."""
    events = timeline(order_id)
    names = user_names(value for event in events for key in PEOPLE_KEYS if (value := (event.payload or {}).get(key)))
    entries = []
    for event in events:
        text = _for_manager(event, names) if audience == "manager" else _for_client(event, names, viewer_id)
        if text:
            entries.append(Entry(event.id, event.created_at, event.type, event.type.removeprefix("order."), text))
    return entries


def _slot_text(payload: dict) -> str:
    start = payload.get("slot_start")
    if not start:
        return ""
    zone = company_zone()
    try:
        return datetime.fromisoformat(start).astimezone(zone).strftime("%a %d %b %Y %H:%M")
    except ValueError:
        return start


def _for_manager(event: Event, names: dict) -> str:
    """Everything that happened, with who did it: the manager's (and the quality reviewer's) wording."""
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
        if reason == NO_SHOW_REASON:
            return f"Failed automatically: {who('worker_id')} did not check in (no-show)."
        if reason == KIT_NOT_ISSUED_REASON:
            return "Failed automatically: the kit was never issued, so nobody could check in (no fine, no charge)."
        by = f" by {who('by_user_id')}" if payload.get("by_user_id") else ""
        return f"Marked failed{by}: {reason}"
    label = kind.split(".", 1)[-1].replace("_", " ")
    return label[:1].upper() + label[1:] + "."


def _for_client(event: Event, names: dict, viewer_id: int | None) -> str | None:
    """What a client needs to know, in their words; steps they have no use for are left out."""
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
        if reason == KIT_NOT_ISSUED_REASON:
            return "Failed: we could not prepare the kit in time (you are not charged)"
        return "Failed" + (f": {reason}" if reason else "")
    return None  # steps the client has no use for
