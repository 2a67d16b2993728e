"""The periodic sweep: Postgres is the truth, so whatever is pending there is enqueued again.

This is what makes a Redis flush, a lost enqueue or a killed worker harmless.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from app.events.jobs import DELIVER, pending_deliveries
from app.extensions import db
from app.jobs import job
from app.notifications.sender import recipients_due
from app.notifications.services import enqueue_send
from app.queues import enqueue
from app.supplies.jobs import resend_due_cookie_webhooks

log = logging.getLogger(__name__)


@job
def sweep() -> dict[str, int]:
    grace = current_app.config["SWEEP_GRACE_SECONDS"]
    deliveries = pending_deliveries(timedelta(seconds=grace))
    recipients = recipients_due(grace)
    db.session.rollback()  # read-only: end the transaction before talking to Redis
    for consumer, aggregate_type, aggregate_id in deliveries:
        enqueue("events", DELIVER, consumer, aggregate_type, aggregate_id)
    for recipient in recipients:
        enqueue_send(recipient)
    resend_due_cookie_webhooks(grace)  # US-170: pending contractor webhooks
    if deliveries or recipients:
        log.info("sweep re-enqueued %s deliveries and %s recipients", len(deliveries), len(recipients))
    return {"deliveries": len(deliveries), "recipients": len(recipients)}
