"""Read-side queries other domains and pages may call about the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from app.extensions import db
from app.notifications.models import OutboxEmail


@dataclass(frozen=True)
class MailLine:
    id: int
    recipient: str
    subject: str
    template: str
    status: str
    created_at: datetime
    sent_at: datetime | None


def mails_about(event_ids: Iterable[int], key_prefixes: Iterable[str] = ()) -> list[MailLine]:
    """Mail caused by these events (keys `event:<id>:...`) or with these key prefixes, oldest first."""
    prefixes = [f"event:{event_id}:" for event_id in event_ids] + list(key_prefixes)
    if not prefixes:
        return []
    rows = db.session.scalars(
        select(OutboxEmail)
        .where(or_(*(OutboxEmail.idempotency_key.startswith(prefix, autoescape=True) for prefix in prefixes)))
        .order_by(OutboxEmail.created_at, OutboxEmail.id)
    )
    return [
        MailLine(row.id, row.recipient, row.subject, row.template, row.status, row.created_at, row.sent_at)
        for row in rows
    ]
