"""Demo data for `make run`: accounts (password `demo-password`), service types, a week of orders
in every status, and weeks of history for billing.

`flask demo load` calls `load_demo()` once: the accounts are created when the manager's account is
missing, the catalogue and the orders when there is no service type yet, the billing history when
the demo clients have no order older than the last week, so each part loads once (and an older
demo database gains what it lacks).

The billing history: finished orders on the working days before the last week, back to
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

from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.accounts import services as accounts
from app.demo import quality as quality_demo
from app.demo import tote
from app.demo.data import (
    CLIENTS,
    DEMO_PASSWORD,
    DEMO_SANDBOX_DELAY_MS,
    FAILING_CLIENT,
    HISTORY_HANDLED_BY,
    PAST,
    RECENT_DAYS,
    STAFF,
    UPCOMING,
    WORKERS,
)
from app.demo.hiring import has_hiring, load_hiring
from app.demo.story import Demo, history_stories
from app.events.models import Event, HandledEvent
from app.events.registry import consumers
from app.events.services import deliveries_left_to_the_sweep
from app.extensions import db
from app.orders import services as orders
from app.orders import slots
from app.orders.models import Order, ServiceType
from app.platform.clock import utcnow


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
    if quality_demo.missing():
        quality_demo.load()
        created = True
    if tote.needed():
        tote.load_tote()
        created = True
    if not has_hiring():
        history_start = db.session.scalar(select(func.coalesce(func.max(Event.id), 0)))
        with deliveries_left_to_the_sweep():  # handled below, or left to the sweep: no backlog of jobs
            load_hiring(accounts.find_user_by_email(STAFF[0][0]))
        _mark_history_handled(history_start, utcnow())  # nobody is mailed about the demo's applicants
        created = True
    return created


def _load_accounts() -> None:
    for email, name, roles in STAFF:
        accounts.create_staff(email, name, roles, password=DEMO_PASSWORD)
    for email, name, age, breed, coat, strengths, weaknesses in WORKERS:
        user = accounts.create_worker(email, name, age, breed, coat, strengths, weaknesses, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)
    for email, name, address, payment, phone in CLIENTS:
        user = accounts.create_client(email, name, address, payment, phone, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)


def _load_orders() -> None:
    demo = Demo()
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


def _has_billing_history() -> bool:
    clients = [user.id for user in (accounts.find_user_by_email(row[0]) for row in CLIENTS) if user is not None]
    if not clients:
        return True  # not the demo's database: nothing to add to
    hours = slots.working_hours()
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
    demo = Demo(quiet=True)
    history_start = db.session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    for story in history_stories(demo):
        demo.past(story)
    _mark_history_handled(history_start, demo.now)

    from app.billing.credits import credit_worker
    from app.billing.providers import sandbox_settings, set_sandbox

    previous_month = (demo.today.replace(day=1) - timedelta(days=1)).replace(day=15)
    for number, (worker, amount, reason, when) in enumerate(demo.credits(previous_month)):
        credit_worker(worker, amount, reason, demo.manager, idempotency_key=f"demo-{number}", now=when)
    # US-220 failure and retry: the sandbox declines every charge of this client. It answers after
    # about DEMO_SANDBOX_DELAY_MS, like a real provider, so a run's progress bar is seen moving.
    setting = sandbox_settings()
    failing = demo.clients[FAILING_CLIENT].id
    set_sandbox(sorted({*setting.fail_user_ids, failing}), setting.fail_rate, DEMO_SANDBOX_DELAY_MS)
    # Issue 12: the schedule would bill the history the moment the worker starts, and the manager
    # would find nothing to do. The demo pauses the automatic runs instead (days still close): the
    # weeks and the month of history wait for the manager's Start on /manage/billing, with a
    # progress bar that moves; the same page switches the automatic runs back on.
    from app.billing.settings import set_automatic_runs

    set_automatic_runs(False, demo.manager)
