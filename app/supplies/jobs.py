"""The cookie contractor's webhook (US-170), posted by an RQ job after the commit.

One request per order: the row in cookie_requests is the truth, the job only carries work. The
job claims the row (FOR UPDATE SKIP LOCKED, so a duplicated job does nothing), posts the JSON
with an `Idempotency-Key` header that is the same for every attempt of the order, and records
the attempt: sent, or the error and the next attempt with capped exponential backoff. The sweep
re-enqueues every pending request that is due, so a lost job or a Redis restart loses nothing.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.events.jobs import backoff
from app.extensions import db
from app.orders.models import Order
from app.platform.clock import utcnow
from app.platform.jobs import job
from app.platform.schedule import every
from app.platform.sweep import sweeper
from app.supplies import services
from app.supplies.models import CookieRequest
from app.supplies.services import WEBHOOK_JOB, cookie_payload, enqueue_webhook, idempotency_key

log = logging.getLogger(__name__)

USER_AGENT = "MCF cookie requests"


def post_json(url: str, body: dict, key: str, timeout: float) -> int:
    """POST body as JSON; returns the status, raises for anything but 2xx or on no answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": USER_AGENT},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


@job
def send_cookie_webhook(order_id: int) -> str:
    """Post one order's cookie request; returns what happened ('sent', 'retry', 'skipped')."""
    session = db.session
    config = current_app.config
    cookie = session.scalars(
        select(CookieRequest)
        .where(CookieRequest.order_id == order_id, CookieRequest.channel == "webhook")
        .with_for_update(skip_locked=True)
    ).first()
    if cookie is None or cookie.status != "pending":
        session.commit()
        return "skipped"
    if cookie.next_attempt_at > utcnow():
        retry_at = cookie.next_attempt_at
        session.commit()
        enqueue_webhook(order_id, at=retry_at)
        return "skipped"
    url = config.get("COOKIE_CONTRACTOR_WEBHOOK_URL")
    if not url:
        cookie.last_error = "COOKIE_CONTRACTOR_WEBHOOK_URL is not set"
        session.commit()
        return "skipped"
    order = session.get(Order, order_id)
    body = cookie_payload(order) | {"request_id": idempotency_key(order_id)}
    cookie.attempts += 1
    try:
        post_json(url, body, idempotency_key(order_id), config["COOKIE_WEBHOOK_TIMEOUT_SECONDS"])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        cookie.last_error = _describe(exc)
        cookie.next_attempt_at = utcnow() + backoff(
            cookie.attempts,
            config.get("COOKIE_WEBHOOK_RETRY_BASE_SECONDS", 30),
            config.get("COOKIE_WEBHOOK_RETRY_MAX_SECONDS", 3600),
        )
        retry_at = cookie.next_attempt_at
        session.commit()
        log.warning("cookie webhook for order %s failed (attempt %s): %s", order_id, cookie.attempts, exc)
        enqueue_webhook(order_id, at=retry_at)
        return "retry"
    cookie.status = "sent"
    cookie.sent_at = utcnow()
    cookie.last_error = ""
    session.commit()
    return "sent"


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"[:2000]
    return (str(getattr(exc, "reason", "")) or str(exc) or type(exc).__name__)[:2000]


def due_cookie_webhooks(grace: timedelta) -> list[int]:
    """Orders whose webhook request is pending and due (older than the grace: fresh ones have a job)."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(CookieRequest.order_id).where(
                CookieRequest.channel == "webhook",
                CookieRequest.status == "pending",
                CookieRequest.next_attempt_at <= now,
                CookieRequest.created_at <= now - grace,
            )
        )
    )


@sweeper("cookie webhooks")
def due_cookie_webhook_jobs(older_than: timedelta) -> list[tuple[str, str, tuple[int]]]:
    """US-170: a webhook job for every due pending request to the cookie contractor."""
    return [("default", WEBHOOK_JOB, (order_id,)) for order_id in due_cookie_webhooks(older_than)]


@every("NO_SHOW_CHECK_SECONDS", name="late-kits")
@job
def warn_late_kits() -> int:
    """Warn about kits still not issued shortly before their slot (once per kit)."""
    warned = services.warn_late_kits()
    db.session.commit()
    if warned:
        log.warning("kits still not issued shortly before their slot: orders %s", warned)
    return len(warned)
