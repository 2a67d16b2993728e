"""Demo data for `make run`: accounts (password `demo-password`), service types, a week of orders
in every status, and weeks of history for billing.

`flask demo load` calls `load_demo()` once: the accounts are created when the manager's account is
missing, the catalogue and the orders when there is no service type yet, the billing history when
the demo clients have no order older than the last week, so each part loads once (and an older
demo database gains what it lacks).

The billing history (issue 4): finished orders on the working days before the last week, back to
at least five whole weeks and the whole previous month; two manager credits (US-270), one dated
last month; and the sandbox set to decline one client's charges (a failed invoice and its retries).
Its order events are left to the billing consumer (written without a delivery job each, so they
don't queue ahead of everyone's mail: the sweep re-enqueues them and the daily close delivers what
is still pending of a day), and the weekly and monthly runs to the scheduled checks and to the
manager's buttons on /manage/billing.

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

# The billing history (issue 4): orders on the working days before PAST's week, back to at least
# HISTORY_WEEKS whole weeks and the whole previous month. The services each worker does (their strengths).
HISTORY_WEEKS = 5
RECENT_DAYS = 7  # PAST's stories are within this many days (a Sunday moves "6 days ago" back to 7)
SKILLED_SERVICES = [("House cleaning", "Cooking"), ("Gardening", "Shopping"), ("Small repairs", "House cleaning")]
# US-270: (cents, reason) credited by the manager: to the first worker last month, to the third this month.
CREDITS = [
    (25_00, "Stayed two extra hours to finish a spring clean without asking for more."),
    (15_00, "Brought her own sisal rope when the repair kit came short."),
]
FAILING_CLIENT = 2  # the sandbox declines this client's charges, so a failed invoice and its retries show


def load_demo() -> bool:
    """Create whatever part of the demo is missing; True if anything was created."""
    created = False
    if accounts.find_user_by_email(STAFF[0][0]) is None:
        _load_accounts()
        created = True
    if db.session.scalar(select(func.count()).select_from(ServiceType)) == 0:
        _load_orders()
        created = True
    if not _has_billing_history():
        _load_billing_history()
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
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.hours = orders.working_hours()
        self.now = utcnow()
        self.today = self.now.astimezone(self.hours.timezone).date()
        self.types = {service.name: service for service in db.session.scalars(select(ServiceType))}
        for name, description, duration, skills, consumables in SERVICE_TYPES:
            if name not in self.types:
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
        """Publish like app.orders.states.move does (EVENT_TYPES), dated when it happened.

        The older billing history (`quiet`) writes the same rows without enqueueing a delivery per
        event and consumer (thousands of jobs ahead of everyone's mail at `make run`): its events are
        handled for HISTORY_HANDLED_BY, and the sweep and the daily close deliver them to billing.
        """
        if self.quiet:
            event = Event(type=event_type, aggregate_type="order", aggregate_id=str(order.id))
            event.payload = order_payload(order, **extra)
            db.session.add(event)
            db.session.flush()
        else:
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


def _load_orders() -> None:
    demo = _Demo()
    history_start = db.session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    failed = None
    for story in PAST:
        order = demo.past(story)
        if story.outcome == "no_show":
            failed = order
    _mark_history_handled(history_start, demo.now)

    for spec in UPCOMING:
        demo.upcoming(*spec)
    if failed is not None:  # US-132: the no-show's client booked a copy; it goes to someone else
        copy = orders.rebook(failed, failed.client, demo.slot(demo.working_days_ahead(2), 1, failed.service_type))
        demo.match(copy)
        demo.supplies(copy, "matched")
    db.session.flush()


def _mark_history_handled(after_event_id: int, now: datetime) -> None:
    """The events published since `after_event_id` are history: handled by HISTORY_HANDLED_BY only."""
    history = db.session.execute(select(Event.id, Event.type).where(Event.id > after_event_id)).all()
    for name in HISTORY_HANDLED_BY:
        consumer = consumers.get(name)
        for event_id, event_type in history:
            if consumer is not None and event_type in consumer.handlers:
                db.session.add(HandledEvent(consumer=name, event_id=event_id, handled_at=now))
    db.session.flush()


# ---------------------------------------------------------------- weeks of history for billing (issue 4)


def history_stories(demo: _Demo) -> list[Past]:
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


def _has_billing_history() -> bool:
    clients = [user.id for user in (accounts.find_user_by_email(row[0]) for row in CLIENTS) if user is not None]
    if not clients:
        return True  # not the demo's database: nothing to add to
    hours = orders.working_hours()
    today = utcnow().astimezone(hours.timezone).date()
    cutoff = datetime.combine(today - timedelta(days=RECENT_DAYS), datetime.min.time(), tzinfo=hours.timezone)
    older = select(Order.id).where(Order.client_id.in_(clients), Order.slot_start < cutoff).limit(1)
    return db.session.scalar(older) is not None


def _load_billing_history() -> None:
    """The older orders, a manager's credits (US-270) and a client whose sandbox payments fail.

    The billing consumer is left to post the history's order events (they are not marked handled for
    it): the running worker delivers them, and the daily close delivers whatever is still pending of a
    day before closing it. The runs are left to the scheduled checks and the manager's buttons.
    """
    demo = _Demo(quiet=True)
    history_start = db.session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    for story in history_stories(demo):
        demo.past(story)
    _mark_history_handled(history_start, demo.now)

    from app.billing.credits import credit_worker
    from app.billing.providers import sandbox_settings, set_sandbox

    previous_month = (demo.today.replace(day=1) - timedelta(days=1)).replace(day=15)
    for number, (worker, amount, reason, when) in enumerate(demo.credits(previous_month)):
        credit_worker(worker, amount, reason, demo.manager, idempotency_key=f"demo-{number}", now=when)
    # US-220 failure and retry: the sandbox declines every charge of this client.
    setting = sandbox_settings()
    failing = demo.clients[FAILING_CLIENT].id
    set_sandbox(sorted({*setting.fail_user_ids, failing}), setting.fail_rate)


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
