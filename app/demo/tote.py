"""The tote's demo: two more managers with the bettor role, bets on a few open orders, and a
settled history that includes a pool nobody won (its pot went to the developers, US-281).

The tote learns about orders only from their events, so the demo hands it the orders' events
exactly as a delivery would (its consumer's handler and a handled-event row for each, in event
order), and places the history's bets right after each order's request, dated then. The bettors'
result mails go to the local sink like every other demo mail.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import and_, exists, select

from app.accounts import services as accounts
from app.demo.data import DEMO_PASSWORD, STAFF
from app.events.models import Event, HandledEvent
from app.extensions import db
from app.platform.clock import utcnow
from app.tote import services as tote
from app.tote.consumers import tote as consumer

BETTORS = [
    ("bella@example.com", "Bella the Bookmaker", ["manager", "bettor"]),
    ("oscar@example.com", "Oscar of the Odds", ["manager", "bettor"]),
]
HISTORY_POOLS = 6  # the most recent ended orders get bets
# (bettor index, outcome, amount) per history pool; the outcome that happened decides who wins.
HISTORY_BETS = [
    [(0, "completed", "10"), (1, "completed", "5"), (2, "cancelled", "7.5")],
    [(0, "failed", "4"), (1, "completed", "12,5"), (2, "completed", "3")],
    [(0, "completed", "20"), (2, "failed", "2.25")],
    [(1, "cancelled", "6"), (2, "completed", "6")],
    [(0, "completed", "1"), (1, "completed", "2"), (2, "completed", "4")],
]
NO_WINNER_BETS = [(0, "completed", "15"), (1, "completed", "10"), (2, "completed", "5")]
OPEN_BETS = [
    [(0, "completed", "10"), (1, "cancelled", "4"), (2, "completed", "2.5")],
    [(1, "completed", "8"), (2, "failed", "1")],
    [(0, "failed", "3"), (2, "completed", "9")],
]


def needed() -> bool:
    """True when the demo has its orders but not the tote's part yet."""
    return accounts.find_user_by_email(STAFF[0][0]) is not None and accounts.find_user_by_email(BETTORS[0][0]) is None


def load_tote() -> None:
    people = [accounts.find_user_by_email(STAFF[0][0])]
    for email, name, roles in BETTORS:
        people.append(accounts.create_staff(email, name, roles, password=DEMO_PASSWORD))
    events = list(
        db.session.scalars(
            select(Event)
            .where(
                Event.type.in_(consumer.event_types),
                ~exists().where(and_(HandledEvent.consumer == consumer.name, HandledEvent.event_id == Event.id)),
            )
            .order_by(Event.id)
        )
    )
    by_order: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_order[event.aggregate_id].append(event)
    history_bets = _history_plan(by_order)
    for event in events:
        consumer.handle(event)
        db.session.add(HandledEvent(consumer=consumer.name, event_id=event.id))
        if event.type == "order.requested" and event.aggregate_id in history_bets:
            pool = tote.locked_pool_for_order(int(event.aggregate_id))
            when = min(event.created_at + timedelta(minutes=10), pool.closes_at - timedelta(minutes=1))
            for offset, (who, outcome, amount) in enumerate(history_bets[event.aggregate_id]):
                tote.place_bet(people[who], pool.id, outcome, amount, now=when + timedelta(seconds=offset))
    db.session.flush()
    now = utcnow()
    from app.tote.queries import board

    open_pools, _has_next, _count = board(1, len(OPEN_BETS), now=now)
    for view, bets in zip(open_pools, OPEN_BETS, strict=False):
        for who, outcome, amount in bets:
            tote.place_bet(people[who], view.pool.id, outcome, amount, now=now)
    db.session.flush()


def _history_plan(by_order: dict[str, list[Event]]) -> dict[str, list[tuple[int, str, str]]]:
    """The orders whose pools get history bets: the latest ended ones, one of them lost by all."""
    ended = [
        (events[-1].created_at, order_id, events[-1].type)
        for order_id, events in by_order.items()
        if events[0].type == "order.requested" and events[-1].type in tote.ENDING_EVENTS
    ]
    ended.sort(reverse=True)
    chosen = ended[:HISTORY_POOLS]
    plan: dict[str, list[tuple[int, str, str]]] = {}
    no_winner = next((order_id for _at, order_id, kind in chosen if kind != "order.completed"), None)
    if no_winner is not None:
        plan[no_winner] = NO_WINNER_BETS
    others = [order_id for _at, order_id, _kind in chosen if order_id != no_winner]
    for order_id, bets in zip(others, HISTORY_BETS, strict=False):
        plan[order_id] = bets
    return plan
