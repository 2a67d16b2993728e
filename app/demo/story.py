"""The story engine: orders of the past written as they happened (events dated then, through the
events API), and upcoming orders played through the real services."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import User
from app.demo.data import (
    CANCEL_REASONS,
    CLIENTS,
    CREDITS,
    DESCRIPTIONS,
    HISTORY_WEEKS,
    RECENT_DAYS,
    SERVICE_TYPES,
    SKILLED_SERVICES,
    STAFF,
    WORKERS,
    Past,
    S,
)
from app.demo.photos import order_photo
from app.events import publish
from app.extensions import db
from app.orders import pricing, service_types, slots
from app.orders import services as orders
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.states import EVENT_TYPES, order_payload
from app.platform.clock import utcnow
from app.supplies.models import CookieRequest, Kit


class Demo:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.hours = slots.working_hours()
        self.now = utcnow()
        self.today = self.now.astimezone(self.hours.timezone).date()
        self.types = {service.name: service for service in db.session.scalars(select(ServiceType))}
        for name, description, duration, skills, consumables in SERVICE_TYPES:
            if name not in self.types:
                self.types[name] = service_types.save_service_type(
                    None,
                    name=name,
                    description=description,
                    duration_minutes=duration,
                    skills=skills,
                    consumables=consumables,
                )
        self.manager = accounts.find_user_by_email(STAFF[0][0])
        self.supply = accounts.find_user_by_email(STAFF[1][0])
        self.workers = [accounts.find_user_by_email(row[0]) for row in WORKERS]
        self.clients = [accounts.find_user_by_email(row[0]) for row in CLIENTS]

    def slot(self, day, index: int, service: ServiceType) -> datetime:
        times = slots.slot_times(self.hours, service.duration_minutes) or [self.hours.opens]
        start = times[0] if index == 0 else times[min(len(times) - 1, len(times) // 2)]
        return datetime.combine(day, start, tzinfo=self.hours.timezone)

    def working_days_ahead(self, count: int):
        day, found = self.today, 0
        while found < count:
            day += timedelta(days=1)
            if day.weekday() in self.hours.days:
                found += 1
        return day

    def working_day_before(self, days: int):
        """`days` ago, moved back to a working day (the company does not work on Sundays)."""
        day = self.today - timedelta(days=days)
        while day.weekday() not in self.hours.days:
            day -= timedelta(days=1)
        return day

    # ------------------------------------------------------------ the past, told as it happened

    def event(self, order: Order, event_type: str, at: datetime, **extra) -> None:
        """Publish like app.orders.states.move does (EVENT_TYPES), dated when it happened.

        The older billing history (`quiet`) leaves delivery to the sweep (thousands of jobs would
        queue ahead of everyone's mail at `make run`): its events are handled for
        HISTORY_HANDLED_BY, and the sweep and the daily close deliver them to billing.
        """
        payload = {**order_payload(order, **extra), "at": at.isoformat()}
        publish(event_type, "order", order.id, payload, at=at, deliver=not self.quiet)

    def past(self, story: Past) -> Order:
        service = self.types[story.service]
        client, worker = self.clients[story.client], self.workers[story.worker]
        if story.outcome == "in_progress":
            start = (self.now - timedelta(minutes=40)).replace(second=0, microsecond=0)
        else:
            start = self.slot(self.working_day_before(story.days_ago), story.slot, service)
        requested_at = start - timedelta(days=2, hours=3)
        order = Order(
            client=client,
            service_type=service,
            description=DESCRIPTIONS[story.service],
            address=client.client_profile.address,
            slot_start=start,
            slot_end=start + timedelta(minutes=service.duration_minutes),
            status=S.REQUESTED,
            created_at=requested_at,
        )
        db.session.add(order)
        db.session.flush()
        self.event(order, "order.requested", requested_at, description=order.description, address=order.address)

        if story.outcome == "cancelled_by_manager":  # cancelled before anyone was matched
            return self.finish(order, S.CANCELLED, requested_at + timedelta(hours=2), self.manager, story.outcome)

        matched_at = requested_at + timedelta(minutes=1)
        quote = pricing.quote(client.id, service)
        order.worker = worker
        order.base_price_cents, order.discount_percent, order.price_cents = (
            quote.base_cents,
            quote.discount_percent,
            quote.price_cents,
        )
        order.status, order.matched_at = S.MATCHED, matched_at
        db.session.flush()
        self.event(order, EVENT_TYPES[S.MATCHED], matched_at)
        db.session.add(Kit(order_id=order.id, requested_at=matched_at))
        cookie = CookieRequest(
            order_id=order.id,
            channel="email",
            status="sent",
            attempts=1,
            created_at=matched_at,
            sent_at=matched_at,
            next_attempt_at=matched_at,
        )
        db.session.add(cookie)
        order.confirmed_at = matched_at + timedelta(hours=1)
        self.event(order, "order.confirmed", order.confirmed_at)

        if story.outcome == "cancelled_by_client":
            return self.finish(order, S.CANCELLED, matched_at + timedelta(hours=20), client, story.outcome)

        issued_at = start - timedelta(hours=2)
        cookie.status, cookie.received_at, cookie.received_by_id = "received", issued_at, self.supply.id
        kit = db.session.get(Kit, order.id)
        kit.issued_at, kit.issued_by_id = issued_at, self.supply.id
        order.status, order.kit_issued_at = S.KIT_ISSUED, issued_at
        db.session.flush()
        self.event(order, EVENT_TYPES[S.KIT_ISSUED], issued_at)

        if story.outcome == "no_show":
            failed_at = start + timedelta(minutes=31)
            order.finish_reason = orders.NO_SHOW_REASON
            order.status, order.finished_at = S.FAILED, failed_at
            db.session.flush()
            self.event(order, EVENT_TYPES[S.FAILED], failed_at, reason=orders.NO_SHOW_REASON)
            return order

        started_at = start + timedelta(minutes=4)
        order.checkin_photo = order_photo(order, "checkin")
        order.status, order.started_at = S.IN_PROGRESS, started_at
        db.session.flush()
        self.event(order, EVENT_TYPES[S.IN_PROGRESS], started_at, checkin_photo=True)
        if story.outcome == "in_progress":
            return order

        finished_at = order.slot_end - timedelta(minutes=5)
        order.report_photo = order_photo(order, "report")
        order.status, order.finished_at = S.COMPLETED, finished_at
        db.session.flush()
        self.event(order, EVENT_TYPES[S.COMPLETED], finished_at)
        return order

    def finish(self, order: Order, status: OrderStatus, at: datetime, actor: User, outcome: str) -> Order:
        order.finish_reason = CANCEL_REASONS[outcome]
        order.finished_by = actor
        order.status, order.finished_at = status, at
        db.session.flush()
        self.event(order, EVENT_TYPES[status], at, reason=order.finish_reason, by_user_id=actor.id)
        return order

    def credits(self, previous_month) -> list[tuple[User, int, str, datetime]]:
        """The manager's credits (US-270): (worker, cents, reason, when), one in last month's invoice."""
        evening = datetime.combine(previous_month, self.hours.closes, tzinfo=self.hours.timezone)
        this_month = datetime.combine(self.today.replace(day=1), datetime.min.time(), tzinfo=self.hours.timezone)
        return [
            (self.workers[0], CREDITS[0][0], CREDITS[0][1], evening),
            (self.workers[2], CREDITS[1][0], CREDITS[1][1], max(self.now - timedelta(hours=1), this_month)),
        ]

    # ------------------------------------------------------------ the coming days, through the services

    def upcoming(self, days_ahead: int, index: int, client_index: int, service_name: str, state: str) -> Order:
        service = self.types[service_name]
        client = self.clients[client_index]
        order = orders.request_order(
            client,
            service_type_id=service.id,
            description=DESCRIPTIONS[service_name],
            slot_start=self.slot(self.working_days_ahead(days_ahead), index, service),
        )
        if state != "requested":
            self.match(order)
            self.supplies(order, state)
        return order

    def match(self, order: Order) -> None:
        """The real pipeline (its run explains the choice); a plain assignment if it can't choose."""
        try:
            from app.matching.services import match_order
        except ImportError:  # pragma: no cover - the matching package is always there in this app
            match_order = None
        if match_order is not None:
            match_order(order)
        if order.status == S.REQUESTED:
            excluded = orders.excluded_workers(order)
            worker = next(w for w in self.workers if w.id not in excluded)
            orders.assign_worker(order, worker)

    def supplies(self, order: Order, state: str) -> None:
        from app.supplies import services as supplies

        supplies.request_kit(order)
        supplies.request_cookie(order)
        if state in ("cookie_received", "kit_issued"):
            supplies.mark_cookie_received(order, self.supply)
        if state == "kit_issued":
            supplies.issue(order, self.supply)
        if state == "confirmed":
            orders.confirm(order, order.worker)


def history_stories(demo: Demo) -> list[Past]:
    """Orders on the working days before the last week, oldest first: whole weeks from the Monday of
    HISTORY_WEEKS weeks ago or of the previous month's first day, whichever is earlier, so the previous
    calendar month and at least five weeks are complete for the runs to bill. Each worker does the
    services they are good at; most orders complete, some are cancelled (by the client after matching,
    which is charged; by a manager before it, which is not) and a few are no-shows (a fine)."""
    previous_month = (demo.today.replace(day=1) - timedelta(days=1)).replace(day=1)
    first = min(demo.today - timedelta(weeks=HISTORY_WEEKS), previous_month)
    first -= timedelta(days=first.weekday())
    stories, number = [], 0
    for days_ago in range((demo.today - first).days, RECENT_DAYS, -1):
        day = demo.today - timedelta(days=days_ago)
        if day.weekday() not in demo.hours.days:
            continue
        for slot in range(1 if day.toordinal() % 3 == 0 else 2):
            worker = number % len(WORKERS)
            client = (number + number // len(WORKERS)) % len(CLIENTS)
            service = SKILLED_SERVICES[worker][(number // len(WORKERS)) % 2]
            if number % 11 == 5:
                outcome = "no_show"
            elif number % 7 == 3:
                outcome = "cancelled_by_client"
            elif number % 19 == 9:
                outcome = "cancelled_by_manager"
            else:
                outcome = "completed"
            stories.append(Past(days_ago, slot, client, worker, service, outcome))
            number += 1
    return stories
