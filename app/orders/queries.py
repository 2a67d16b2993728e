"""Read-side helpers for order pages."""

from __future__ import annotations

from sqlalchemy import select

from app.events.models import Event
from app.extensions import db


def timeline(order_id: int) -> list[Event]:
    """Every event of the order, oldest first: its full history."""
    return list(
        db.session.scalars(
            select(Event).where(Event.aggregate_type == "order", Event.aggregate_id == str(order_id)).order_by(Event.id)
        )
    )
