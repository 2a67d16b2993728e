"""Serving an order's check-in and report photos (US-180), after the view's own ownership check."""

from __future__ import annotations

from flask import abort

from app.orders.models import Order
from app.uploads import send_photo

PHOTO_KINDS = {"checkin": "checkin_photo", "report": "report_photo"}


def order_photo_response(order: Order, kind: str):
    """The photo of this kind, or 404 for an unknown kind, a missing photo or a missing file."""
    attribute = PHOTO_KINDS.get(kind)
    relative = getattr(order, attribute) if attribute else None
    if not relative:
        abort(404)
    try:
        return send_photo(relative)
    except FileNotFoundError:
        abort(404)
