"""Demo data for `make run`: accounts (password `demo-password`), service types and a week of orders.

`flask demo load` calls `load_demo()` once: the accounts are created when the manager's account is
missing, the catalogue and the orders when there is no service type yet, so each part loads once
(and an older demo database gains the orders).

The orders cover every status. Upcoming ones go through the real services (request, matching,
kit and cookie, the worker's confirmation), so their events, emails and matching explanation are
what the running system would produce. Past ones (and today's job in progress) can't be booked in
the past, so their rows are written directly with the timestamps of the story, and their events
are published with the contract payload (app.orders.states.order_payload) at those times: the
timeline reads like it happened. Those historical events are recorded as already handled by the
consumers whose effects the demo writes itself or that would mail people about last week
(matching, notifications, supplies); consumers added later (billing, quality, the tote) still
receive them. All demo mail goes to @example.com / .example addresses, i.e. the local sink.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app.accounts import services as accounts
from app.accounts.models import User
from app.clock import utcnow
from app.events import publish
from app.events.models import Event, HandledEvent
from app.events.registry import consumers
from app.extensions import db
from app.orders import pricing
from app.orders import services as orders
from app.orders.models import Order, OrderStatus, ServiceType
from app.orders.states import EVENT_TYPES, order_payload
from app.supplies.models import CookieRequest, Kit
from app.uploads import save_photo

S = OrderStatus
DEMO_PASSWORD = "demo-password"

STAFF = [
    ("manager@example.com", "Morgan the Manager", ["manager", "bettor"]),
    ("supply@example.com", "Sam of Supplies", ["supply"]),
]
WORKERS = [
    ("worker@example.com", "Whiskers", 4, "Maine Coon", "tabby", ["cleaning", "cooking"], ["baths"]),
    ("worker2@example.com", "Mittens", 3, "Siamese", "seal point", ["gardening", "shopping"], ["stairs"]),
    ("worker3@example.com", "Shadow", 6, "British Shorthair", "blue", ["repairs", "cleaning"], ["mornings"]),
]
CLIENTS = [
    ("client@example.com", "Tom the Tester", "1 Yarn Street, Purrington", "card"),
    ("client2@example.com", "Luna Laser-Pointer", "22 Catnip Avenue, Purrington", "bank_transfer"),
    ("client3@example.com", "Oscar Box", "3 Cardboard Lane, Meowville", "card"),
]

# (name, description, duration minutes, skills, consumables); every base price is 100 units (US-050).
SERVICE_TYPES = [
    (
        "House cleaning",
        "Dusting, vacuuming and floors, kitchen and bathroom: the whole house, whisker-clean.",
        120,
        ["cleaning"],
        ["Job acceptance form", "Microfibre cloths", "Floor cleaner", "Lint roller", "Bin bags"],
    ),
    (
        "Cooking",
        "Meals for the week, cooked at the client's home and portioned into the fridge.",
        90,
        ["cooking"],
        ["Job acceptance form", "Apron", "Food containers", "Spice kit"],
    ),
    (
        "Gardening",
        "Mowing, weeding, planting and a tidy catnip bed.",
        180,
        ["gardening"],
        ["Job acceptance form", "Gardening gloves", "Catnip seeds", "Compost bag"],
    ),
    (
        "Shopping",
        "The weekly shop, put away where the client likes it.",
        60,
        ["shopping"],
        ["Job acceptance form", "Reusable bags", "Cool bag"],
    ),
    (
        "Small repairs",
        "Wobbly shelves, scratched posts, squeaky doors and other small jobs.",
        120,
        ["repairs"],
        ["Job acceptance form", "Screwdriver set", "Wood glue", "Spare screws", "Sisal rope"],
    ),
]

DESCRIPTIONS = {
    "House cleaning": "Fur everywhere after the moulting season, please do the sofa too.",
    "Cooking": "Five fish dinners for the week, no onions.",
    "Gardening": "The lawn needs mowing and the catnip bed weeding.",
    "Shopping": "Weekly shop: tuna, milk (lactose-free), treats. List on the fridge.",
    "Small repairs": "The scratching post wobbles and a shelf came off the wall.",
}


@dataclass(frozen=True)
class Past:
    """A finished (or started) order of the past week, told as its story."""

    days_ago: int
    slot: int  # index into the day's slot times
    client: int
    worker: int
    service: str
    outcome: str  # completed | cancelled_by_client | cancelled_by_manager | no_show | in_progress


PAST = [
    Past(6, 0, 0, 0, "House cleaning", "completed"),
    Past(6, 1, 1, 1, "Gardening", "completed"),
    Past(5, 0, 2, 2, "Small repairs", "completed"),
    Past(5, 1, 0, 0, "Cooking", "cancelled_by_client"),
    Past(4, 0, 1, 1, "Shopping", "completed"),
    Past(4, 1, 2, 2, "House cleaning", "cancelled_by_manager"),
    Past(3, 0, 1, 0, "Cooking", "completed"),
    Past(2, 0, 0, 1, "Gardening", "no_show"),
    Past(2, 1, 2, 2, "Small repairs", "completed"),
    Past(1, 0, 2, 1, "Shopping", "completed"),
    Past(1, 1, 0, 2, "House cleaning", "completed"),
    Past(0, 0, 1, 0, "House cleaning", "in_progress"),
]
# (working days ahead, slot index, client, service, what happens to it)
UPCOMING = [
    (1, 0, 0, "Cooking", "confirmed"),
    (1, 1, 1, "Small repairs", "matched"),
    (2, 0, 2, "Gardening", "kit_issued"),
    (2, 1, 0, "Shopping", "cookie_received"),
    (3, 0, 1, "Cooking", "kit_issued"),
    (3, 0, 2, "House cleaning", "requested"),
    (3, 1, 1, "Cooking", "requested"),
]
CANCEL_REASONS = {
    "cancelled_by_client": "Going to the vet that day, sorry!",
    "cancelled_by_manager": "The client phoned: the house is being painted this week.",
}
# Consumers that must not act on the demo's history (their effects are written here, or they would mail
# people about last week). Consumers added later still get these events.
HISTORY_HANDLED_BY = ("matching", "notifications", "supplies")


def load_demo() -> bool:
    """Create whatever part of the demo is missing; True if anything was created."""
    created = False
    if accounts.find_user_by_email(STAFF[0][0]) is None:
        _load_accounts()
        created = True
    if db.session.scalar(select(func.count()).select_from(ServiceType)) == 0:
        _load_orders()
        created = True
    return created


def _load_accounts() -> None:
    for email, name, roles in STAFF:
        accounts.create_staff(email, name, roles, password=DEMO_PASSWORD)
    for email, name, age, breed, coat, strengths, weaknesses in WORKERS:
        user = accounts.create_worker(email, name, age, breed, coat, strengths, weaknesses, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)
    for email, name, address, payment in CLIENTS:
        user = accounts.create_client(email, name, address, payment, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)


# ---------------------------------------------------------------- service types and orders


class _Demo:
    def __init__(self) -> None:
        self.hours = orders.working_hours()
        self.now = utcnow()
        self.today = self.now.astimezone(self.hours.timezone).date()
        self.types = {}
        for name, description, duration, skills, consumables in SERVICE_TYPES:
            self.types[name] = orders.save_service_type(
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
        times = orders.slot_times(self.hours, service.duration_minutes) or [self.hours.opens]
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
        """Publish like app.orders.states.move does (EVENT_TYPES), dated when it happened."""
        event = publish(event_type, "order", order.id, order_payload(order, **extra))
        event.created_at = at
        event.payload = {**event.payload, "at": at.isoformat()}

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
        order.checkin_photo = _photo(order, "checkin")
        order.status, order.started_at = S.IN_PROGRESS, started_at
        db.session.flush()
        self.event(order, EVENT_TYPES[S.IN_PROGRESS], started_at, checkin_photo=True)
        if story.outcome == "in_progress":
            return order

        finished_at = order.slot_end - timedelta(minutes=5)
        order.report_photo = _photo(order, "report")
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


def _load_orders() -> None:
    demo = _Demo()
    history_start = db.session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    failed = None
    for story in PAST:
        order = demo.past(story)
        if story.outcome == "no_show":
            failed = order
    history = db.session.execute(select(Event.id, Event.type).where(Event.id > history_start)).all()
    for name in HISTORY_HANDLED_BY:
        consumer = consumers.get(name)
        for event_id, event_type in history:
            if consumer is not None and event_type in consumer.handlers:
                db.session.add(HandledEvent(consumer=name, event_id=event_id, handled_at=demo.now))
    db.session.flush()

    for spec in UPCOMING:
        demo.upcoming(*spec)
    if failed is not None:  # US-132: the no-show's client booked a copy; it goes to someone else
        copy = orders.rebook(failed, failed.client, demo.slot(demo.working_days_ahead(2), 1, failed.service_type))
        demo.match(copy)
        demo.supplies(copy, "matched")
    db.session.flush()


def _photo(order: Order, kind: str) -> str:
    """A small generated picture standing in for the worker's photo."""
    colour = (124, 58, 237) if kind == "checkin" else (15, 123, 74)
    image = Image.new("RGB", (480, 360), colour)
    draw = ImageDraw.Draw(image)
    label = "Check-in" if kind == "checkin" else "Signed report"
    draw.rectangle((20, 20, 460, 340), outline=(255, 255, 255), width=4)
    draw.text((40, 40), f"{label}\norder #{order.id}\n{order.service_type.name}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return save_photo(FileStorage(buffer, filename=f"{kind}.png"), f"orders/{order.id}")
