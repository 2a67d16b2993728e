"""Serving an order's photos after the view's own ownership check: the check-in and report photos
(US-180) and the assigned worker's profile photo (so the client sees who is coming, US-120)."""

from __future__ import annotations

from flask import abort

from app.orders.models import Order
from app.platform.uploads import send_photo

PHOTO_KINDS = {"checkin": "checkin_photo", "report": "report_photo"}


def _photo_path(order: Order, kind: str) -> str | None:
    if kind == "worker":
        profile = order.worker.worker_profile if order.worker else None
        return profile.photo_path if profile else None
    attribute = PHOTO_KINDS.get(kind)
    return getattr(order, attribute) if attribute else None


def order_photo_response(order: Order, kind: str):
    """The photo of this kind, or 404 for an unknown kind, a missing photo or a missing file."""
    relative = _photo_path(order, kind)
    if not relative:
        abort(404)
    try:
        return send_photo(relative)
    except FileNotFoundError:
        abort(404)
