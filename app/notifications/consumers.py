"""The notifications consumer: turns events into outbox mail (US-300).

The idempotency key is derived from the event, so even outside the consumer's own bookkeeping
an event can never produce a second message.
"""

from __future__ import annotations

from app.accounts.models import User
from app.accounts.services import INVITATION, PASSWORD_RESET, make_link_token, max_age_for
from app.events import Consumer
from app.events.models import Event
from app.extensions import db
from app.notifications.services import queue_email
from app.platform.urls import external_url

notifications = Consumer("notifications")


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
