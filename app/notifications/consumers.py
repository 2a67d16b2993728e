"""The notifications consumer: turns events into outbox mail (US-300).

The idempotency key is derived from the event, so even outside the consumer's own bookkeeping
an event can never produce a second message.

A person's mail goes out in the order of their sequence numbers, handed out as events are
handled; events of different aggregates (two orders of one client) are delivered independently,
so the guard below makes an event wait while an earlier event naming the same people is still
unhandled (failing, retried, or simply on another worker). Thus sequence order is event order.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import or_

from app.accounts.models import User
from app.accounts.services import INVITATION, PASSWORD_RESET, make_link_token, max_age_for
from app.events import Consumer
from app.events.jobs import pending_events
from app.events.models import Event
from app.events.registry import Deferred
from app.extensions import db
from app.notifications.services import queue_email
from app.platform.urls import external_url

notifications = Consumer("notifications")

# The payload keys that name the people an event may mail (user ids).
PEOPLE_KEYS = ("user_id", "client_id", "worker_id", "previous_worker_id")


def people_named(payload: dict) -> set[str]:
    return {str(payload[key]) for key in PEOPLE_KEYS if payload.get(key)}


def earlier_unhandled_event_for(event: Event) -> int | None:
    """The id of an earlier event naming any of this event's people that is not handled yet."""
    people = people_named(event.payload)
    if not people:
        return None
    return db.session.scalar(
        pending_events(notifications.name, after_watermark=True)
        .where(Event.id < event.id, or_(*(Event.payload[key].astext.in_(people) for key in PEOPLE_KEYS)))
        .with_only_columns(Event.id)
        .order_by(Event.id)
        .limit(1)
    )


@notifications.guarded_by
def keep_each_persons_mail_in_event_order(event: Event) -> None:
    earlier = earlier_unhandled_event_for(event)
    if earlier is not None:
        raise Deferred(
            f"event {earlier} mails the same people and comes first",
            seconds=current_app.config["MAIL_ORDER_WAIT_SECONDS"],
            earlier_event_id=earlier,
        )


@notifications.handles("account.invitation_sent")
def mail_invitation(event: Event) -> None:
    user = db.session.get(User, event.payload["user_id"])
    if user is None or user.has_password:  # accepted already: a stale invitation is not resent
        return
    token = make_link_token(user, INVITATION)
    queue_email(
        user.email,
        "invitation",
        {
            "name": user.name,
            "roles": event.payload.get("roles", sorted(user.roles)),
            "link": external_url("auth.accept_invitation", token=token),
            "days": max_age_for(INVITATION) // 86400,
        },
        idempotency_key=f"event:{event.id}:invitation",
    )


@notifications.handles("account.password_reset_requested")
def mail_password_reset(event: Event) -> None:
    user = db.session.get(User, event.payload["user_id"])
    if user is None or not user.active:
        return
    token = make_link_token(user, PASSWORD_RESET)
    queue_email(
        user.email,
        "password_reset",
        {
            "name": user.name,
            "link": external_url("auth.reset_password", token=token),
            "hours": max_age_for(PASSWORD_RESET) // 3600,
        },
        idempotency_key=f"event:{event.id}:password-reset",
    )
