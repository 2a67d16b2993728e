"""Kits and fortune cookies: the consumables department's rules (US-150, US-160, US-170).

A kit is requested once per order when it is matched; the department packs it, marks the cookie
received and presses "Issued", which moves the order to kit_issued. The cookie contractor gets
one request per order, by email through the outbox or, when a webhook URL is configured, by an
RQ job after the commit (app/supplies/jobs.py). Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.accounts.models import User, UserRole
from app.events import publish
from app.extensions import db
from app.notifications.services import queue_email
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from app.orders.states import IllegalTransition, lock
from app.platform.clock import utcnow
from app.platform.unit_of_work import after_commit
from app.supplies.models import CookieRequest, Kit

S = OrderStatus
WEBHOOK_JOB = "app.supplies.jobs.send_cookie_webhook"
NOT_NEEDED_STATUSES = (S.CANCELLED, S.FAILED)


class CookieNotReceived(IllegalTransition):
    """Issuing a kit whose cookie hasn't arrived needs the department's confirmation."""


def kit_state(kit: Kit) -> str:
    """'issued', 'not_needed' (the order was cancelled or failed before issue) or 'to_pack'."""
    if kit.issued_at is not None:
        return "issued"
    if kit.order.status in NOT_NEEDED_STATUSES:
        return "not_needed"
    return "to_pack"


def manager_recipients() -> list[User]:
    """Every active manager (told when a kit is late)."""
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "manager", User.active.is_(True))
            .order_by(User.id)
        )
    )


def supply_recipients() -> list[User]:
    """Everyone in the consumables department: active users with the supply role."""
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "supply", User.active.is_(True))
            .order_by(User.id)
        )
    )


# ---------------------------------------------------------------- requests on match


def request_kit(order: Order) -> tuple[Kit, bool]:
    """The order's kit request, created once; (kit, created)."""
    kit = db.session.get(Kit, order.id)
    if kit is not None:
        return kit, False
    kit = Kit(order=order, order_id=order.id)
    db.session.add(kit)
    db.session.flush()
    return kit, True


def cookie_payload(order: Order) -> dict:
    """What the contractor gets: the client's details, the order and its slot."""
    return {
        "order_id": order.id,
        "client_name": order.client.name,
        "address": order.address,
        "slot_start": order.slot_start.isoformat(),
        "slot_end": order.slot_end.isoformat(),
        "service": order.service_type.name,
    }


def idempotency_key(order_id: int) -> str:
    return f"mcf-cookie-order-{order_id}"


def request_cookie(order: Order) -> tuple[CookieRequest, bool]:
    """One cookie request per order, ever (US-170): a reassignment or a duplicate sends nothing new.

    By email through the outbox (sent when this transaction commits), or by webhook when
    COOKIE_CONTRACTOR_WEBHOOK_URL is set: an RQ job posts it after the commit and retries.
    """
    cookie = db.session.get(CookieRequest, order.id)
    if cookie is not None:
        return cookie, False
    webhook = current_app.config.get("COOKIE_CONTRACTOR_WEBHOOK_URL")
    now = utcnow()
    cookie = CookieRequest(
        order_id=order.id,
        channel="webhook" if webhook else "email",
        status="pending",
        attempts=0,
        last_error="",
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(cookie)
    db.session.flush()
    if webhook:
        order_id = order.id
        after_commit(lambda: enqueue_webhook(order_id))
    else:
        queue_email(
            current_app.config["COOKIE_CONTRACTOR_EMAIL"],
            "cookie_request",
            cookie_payload(order) | {"slot_start": order.slot_start, "slot_end": order.slot_end},
            idempotency_key=f"cookie:order:{order.id}",
        )
        cookie.status = "sent"
        cookie.attempts = 1
        cookie.sent_at = now
        db.session.flush()
    return cookie, True


def enqueue_webhook(order_id: int, at=None) -> None:
    from app.platform.queues import enqueue

    enqueue("default", WEBHOOK_JOB, order_id, at=at)


# ---------------------------------------------------------------- the department's steps


def _kit_of(order: Order) -> Kit:
    kit = db.session.get(Kit, order.id)
    if kit is None:
        raise IllegalTransition(status="No kit has been requested for this order.")
    return kit


def mark_cookie_received(order: Order, actor: User) -> CookieRequest:
    """The contractor's cookie reached the warehouse (US-170)."""
    lock(order)
    kit = _kit_of(order)
    cookie = db.session.get(CookieRequest, order.id, with_for_update=True)
    if cookie is None:
        raise IllegalTransition(status="No cookie was requested for this order.")
    if cookie.status == "received":
        raise IllegalTransition(status=f"The cookie for order #{order.id} was already marked received.")
    if kit.issued_at is not None:
        raise IllegalTransition(status=f"The kit for order #{order.id} was already issued.")
    if order.status in NOT_NEEDED_STATUSES:
        raise IllegalTransition(status=f"Order #{order.id} is {order.status_label.lower()}: its kit is not needed.")
    cookie.status = "received"
    cookie.received_at = utcnow()
    cookie.received_by_id = actor.id
    db.session.flush()
    return cookie


def issue(order: Order, actor: User, confirm_without_cookie: bool = False) -> Kit:
    """ "Issued" (US-160): the order moves to kit_issued and the worker is told to collect it.

    A kit whose cookie hasn't arrived is issued only with the department's confirmation, and is
    then marked issued_without_cookie. Anything illegal raises and changes nothing.
    """
    lock(order)
    kit = _kit_of(order)
    if kit.issued_at is not None:
        raise IllegalTransition(status=f"The kit for order #{order.id} was already issued.")
    if order.status in NOT_NEEDED_STATUSES:
        raise IllegalTransition(status=f"Order #{order.id} is {order.status_label.lower()}: its kit is not needed.")
    if order.status != S.MATCHED:
        raise IllegalTransition(status=f"Order #{order.id} is {order.status_label.lower()}: a kit can't be issued now.")
    cookie = db.session.get(CookieRequest, order.id)
    cookie_missing = cookie is None or cookie.status != "received"
    if cookie_missing and not confirm_without_cookie:
        raise CookieNotReceived(cookie=f"The cookie for order #{order.id} hasn't arrived. Issue the kit without it?")
    orders.issue_kit(order)
    kit.issued_at = utcnow()
    kit.issued_by_id = actor.id
    kit.issued_without_cookie = cookie_missing
    db.session.flush()
    return kit


def warn_late_kits(now: datetime | None = None) -> list[int]:
    """Orders whose slot starts within KIT_LATE_WARNING_MINUTES and whose kit is still not issued:
    each is marked warned and a `kit.late` event tells the department and the managers, once.

    Without the kit the worker cannot check in, and the order would fail at slot + grace for the
    company's doing (app.orders.services.KIT_NOT_ISSUED_REASON): the warning gives time to act."""
    now = now or utcnow()
    horizon = now + timedelta(minutes=current_app.config["KIT_LATE_WARNING_MINUTES"])
    late = db.session.execute(
        select(Kit, Order)
        .join(Order, Order.id == Kit.order_id)
        .where(
            Kit.issued_at.is_(None),
            Kit.late_warning_sent_at.is_(None),
            Order.status == OrderStatus.MATCHED,
            Order.slot_start <= horizon,
            Order.slot_start > now,
        )
        .order_by(Order.slot_start)
        .with_for_update(of=Kit, skip_locked=True)
    ).all()
    for kit, order in late:
        kit.late_warning_sent_at = now
        publish(
            "kit.late",
            "kit",
            order.id,
            {
                "order_id": order.id,
                "worker_id": order.worker_id,
                "slot_start": order.slot_start.isoformat(),
                "minutes_left": int((order.slot_start - now).total_seconds() // 60),
            },
        )
    db.session.flush()
    return [order.id for _kit, order in late]
