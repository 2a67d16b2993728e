"""The tote's rules: pools from order events, bets, withdrawals, settlement, settle-up transfers.

Services flush and never commit; the view, the job or the event delivery commits. Every change to
a pool and its bets happens under the pool row's lock (SELECT ... FOR UPDATE), so a bet racing the
close or a settlement is either in the pool before it closes or refused, and a pool settles once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from app.accounts.models import User
from app.extensions import db
from app.notifications.services import queue_email
from app.platform.clock import utcnow
from app.platform.money import AmountError, parse_amount
from app.platform.validation import ValidationError
from app.tote import ledger
from app.tote.models import (
    OUTCOMES,
    AccountKind,
    Bet,
    Outcome,
    Pool,
    PoolStatus,
    Settlement,
    ToteTransaction,
    TransactionKind,
)
from app.tote.split import Stake, parimutuel

BETTOR_ROLE = "bettor"
MAX_BET_CENTS = 1_000_000_00  # a million units: a typo guard, not a policy
OUTCOME_LABELS = {Outcome.COMPLETED: "Completed", Outcome.CANCELLED: "Cancelled", Outcome.FAILED: "Failed"}
ENDING_EVENTS = {
    "order.completed": Outcome.COMPLETED,
    "order.cancelled": Outcome.CANCELLED,
    "order.failed": Outcome.FAILED,
}


class BettingClosed(ValidationError):
    """The pool no longer takes bets or withdrawals (HTTP 409)."""


class NotABettor(ValidationError):
    """Only managers with the bettor role take part (US-280)."""


def _parse_time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


# -- pools, from order events ------------------------------------------------------------------


def ensure_pool(payload: dict, at: datetime) -> Pool:
    """The order's pool, created from an event's payload the first time the tote hears of the order."""
    slot_start = _parse_time(payload["slot_start"])
    db.session.execute(
        insert(Pool)
        .values(
            order_id=int(payload["order_id"]),
            service=str(payload.get("service") or "")[:200],
            slot_start=slot_start,
            closes_at=slot_start,
            status=PoolStatus.OPEN,
            order_status=payload.get("status") or "requested",
            opened_at=at,
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
    )
    return locked_pool_for_order(int(payload["order_id"]))


def locked_pool_for_order(order_id: int) -> Pool:
    return db.session.scalars(
        select(Pool).where(Pool.order_id == order_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def lock_pool(pool_id: int) -> Pool | None:
    return db.session.scalars(
        select(Pool).where(Pool.id == pool_id).with_for_update().execution_options(populate_existing=True)
    ).first()


def note_order(payload: dict, at: datetime) -> Pool:
    """order.requested (and any later event of an order the tote has not seen): the pool exists."""
    pool = ensure_pool(payload, at)
    if pool.status == PoolStatus.OPEN:
        pool.order_status = payload.get("status") or pool.order_status
        new_slot = _parse_time(payload.get("slot_start"))
        if new_slot is not None and new_slot != pool.slot_start:
            # A moved slot can only bring the close earlier: a bet placed under the old close stays valid.
            pool.slot_start = new_slot
            pool.closes_at = min(pool.closes_at, new_slot)
    db.session.flush()
    return pool


def close_pool(payload: dict, at: datetime) -> Pool:
    """The order checked in at `at`: no more bets, and any bet placed at or after that moment
    (while the event was on its way) is void, its stake returned."""
    pool = ensure_pool(payload, at)
    if pool.status == PoolStatus.OPEN:
        pool.status = PoolStatus.CLOSED
        pool.closed_at = at
        pool.closes_at = min(pool.closes_at, at)
        _void_late_bets(pool)
    pool.order_status = payload.get("status") or pool.order_status
    db.session.flush()
    return pool


def _void_late_bets(pool: Pool) -> None:
    late = db.session.scalars(
        select(Bet).where(Bet.pool_id == pool.id, Bet.withdrawn_at.is_(None), Bet.placed_at >= pool.closes_at)
    ).all()
    for bet in late:
        bet.withdrawn_at = bet.placed_at
        bet.void = True
        ledger.post(
            f"tote:bet:{bet.id}:withdrawal",
            TransactionKind.WITHDRAWAL,
            f"Bet on order #{pool.order_id} void: placed after betting closed; stake returned",
            pool.closes_at,
            [
                (ledger.account_id(AccountKind.BETTOR, bet.bettor_id), bet.amount_cents),
                (ledger.account_id(AccountKind.STAKES), -bet.amount_cents),
            ],
            pool_id=pool.id,
        )
    db.session.flush()


def is_open(pool: Pool, now: datetime | None = None) -> bool:
    return pool.status == PoolStatus.OPEN and (now or utcnow()) < pool.closes_at


# -- bets ----------------------------------------------------------------------------------------


def _check_bettor(user: User) -> None:
    if not user.has_role(BETTOR_ROLE) or not user.has_role("manager"):
        raise NotABettor(pool="Only managers with the bettor role may bet.")


def _closed_message(pool: Pool) -> str:
    return f"Betting on order #{pool.order_id} has closed (at its slot start or check-in); the pool takes no more bets."


def place_bet(bettor: User, pool_id: int, outcome: str, amount: str, now: datetime | None = None) -> Bet:
    """A bet of `amount` (text in units, one parser for all money typed by people) on `outcome`."""
    _check_bettor(bettor)
    errors: dict[str, list[str]] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = ["Choose how the order ends: completed, cancelled or failed."]
    try:
        cents = parse_amount(amount, allow_negative=True)  # a negative bet gets the message below
    except AmountError as exc:
        errors["amount"] = [str(exc)]
    else:
        if cents <= 0:
            errors["amount"] = ["Bet a positive amount, e.g. 5.00."]
        elif cents > MAX_BET_CENTS:
            errors["amount"] = [f"At most {MAX_BET_CENTS // 100:,} units on one bet."]
    if errors:
        raise ValidationError(errors)
    now = now or utcnow()
    pool = lock_pool(pool_id)
    if pool is None:
        raise LookupError(pool_id)
    if not is_open(pool, now):
        raise BettingClosed(pool=_closed_message(pool))
    bet = Bet(pool_id=pool.id, bettor_id=bettor.id, outcome=outcome, amount_cents=cents, placed_at=now)
    db.session.add(bet)
    db.session.flush()
    ledger.post(
        f"tote:bet:{bet.id}:stake",
        TransactionKind.STAKE,
        f"{bettor.name} bet {cents / 100:.2f} on order #{pool.order_id}: {outcome}",
        now,
        [(ledger.account_id(AccountKind.BETTOR, bettor.id), -cents), (ledger.account_id(AccountKind.STAKES), cents)],
        pool_id=pool.id,
        created_by_id=bettor.id,
    )
    return bet


def withdraw_bet(bettor: User, bet_id: int, now: datetime | None = None) -> Bet:
    """Take one's own bet back while the pool is open; the stake returns by a new ledger transaction."""
    _check_bettor(bettor)
    now = now or utcnow()
    bet = db.session.get(Bet, bet_id)
    if bet is None or bet.bettor_id != bettor.id:
        raise LookupError(bet_id)
    pool = lock_pool(bet.pool_id)
    db.session.refresh(bet)
    if bet.withdrawn_at is not None:
        raise BettingClosed(bet="This bet was already withdrawn.")
    if not is_open(pool, now):
        raise BettingClosed(bet=f"Betting on order #{pool.order_id} has closed: the bet can no longer be withdrawn.")
    bet.withdrawn_at = now
    ledger.post(
        f"tote:bet:{bet.id}:withdrawal",
        TransactionKind.WITHDRAWAL,
        f"{bettor.name} withdrew {bet.amount_cents / 100:.2f} on order #{pool.order_id}",
        now,
        [
            (ledger.account_id(AccountKind.BETTOR, bettor.id), bet.amount_cents),
            (ledger.account_id(AccountKind.STAKES), -bet.amount_cents),
        ],
        pool_id=pool.id,
        created_by_id=bettor.id,
    )
    db.session.flush()
    return bet


# -- settlement ----------------------------------------------------------------------------------


def settle_pool(payload: dict, outcome: Outcome, at: datetime, event_id: int | None = None) -> Settlement:
    """The order ended: share the pot among the bets on `outcome` (US-290), once per pool.

    The pool row is locked first; a pool that already has its settlement returns it unchanged
    (a replayed or concurrent delivery pays nobody twice, and the primary key of
    tote_settlements refuses a second row should anything else try).
    """
    pool = ensure_pool(payload, at)
    existing = db.session.get(Settlement, pool.id)
    if existing is not None:
        return existing
    pool.closes_at = min(pool.closes_at, at)
    _void_late_bets(pool)
    bets = list(
        db.session.scalars(
            select(Bet).where(Bet.pool_id == pool.id, Bet.withdrawn_at.is_(None)).order_by(Bet.placed_at, Bet.id)
        )
    )
    pot = sum(bet.amount_cents for bet in bets)
    winners = [bet for bet in bets if bet.outcome == outcome]
    payouts = parimutuel(pot, [Stake(bet.id, bet.amount_cents, rank) for rank, bet in enumerate(winners)])
    house = pot if not winners else 0
    for bet in bets:
        bet.payout_cents = payouts.get(bet.id, 0)
    if pot:
        entries = [(ledger.account_id(AccountKind.STAKES), -pot)]
        if winners:
            accounts = ledger.bettor_account_ids(bet.bettor_id for bet in winners)
            entries += [(accounts[bet.bettor_id], payouts[bet.id]) for bet in winners]
            description = f"Order #{pool.order_id} {outcome}: pot of {pot / 100:.2f} shared by {len(winners)} bet(s)"
        else:
            entries.append((ledger.account_id(AccountKind.HOUSE), pot))
            description = f"Order #{pool.order_id} {outcome}: nobody bet on it, the pot goes to the developers"
        ledger.post(
            f"tote:pool:{pool.id}:settlement", TransactionKind.SETTLEMENT, description, at, entries, pool_id=pool.id
        )
    settlement = Settlement(
        pool_id=pool.id,
        outcome=outcome,
        pot_cents=pot,
        winning_stakes_cents=sum(bet.amount_cents for bet in winners),
        house_cents=house,
        event_id=event_id,
        settled_at=at,
    )
    db.session.add(settlement)
    pool.status = PoolStatus.SETTLED
    pool.outcome = outcome
    pool.settled_at = at
    pool.closed_at = pool.closed_at or at
    pool.order_status = payload.get("status") or outcome
    db.session.flush()
    _mail_results(pool, settlement, bets)
    return settlement


def _mail_results(pool: Pool, settlement: Settlement, bets: list[Bet]) -> None:
    """One mail per bettor in the pool, with their own result, through the outbox."""
    by_bettor: dict[int, list[Bet]] = {}
    for bet in bets:
        by_bettor.setdefault(bet.bettor_id, []).append(bet)
    people = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(list(by_bettor))))}
    for bettor_id in sorted(by_bettor):
        own = by_bettor[bettor_id]
        person = people[bettor_id]
        staked = sum(bet.amount_cents for bet in own)
        paid = sum(bet.payout_cents or 0 for bet in own)
        queue_email(
            person.email,
            "tote_settled",
            {
                "name": person.name,
                "order_id": pool.order_id,
                "pool_id": pool.id,
                "service": pool.service,
                "outcome": OUTCOME_LABELS[Outcome(settlement.outcome)],
                "bets": [(OUTCOME_LABELS[Outcome(bet.outcome)], bet.amount_cents, bet.payout_cents) for bet in own],
                "staked_cents": staked,
                "paid_cents": paid,
                "net_cents": paid - staked,
                "pot_cents": settlement.pot_cents,
                "house": settlement.house_cents > 0,
            },
            idempotency_key=f"tote:pool:{pool.id}:settled:{bettor_id}",
        )


# -- settle-up -----------------------------------------------------------------------------------

HOUSE = "house"  # the developers, as a party of the settle-up


def record_transfer(
    by: User, payer_id: int, payee: int | str, amount_cents: int, key: str, now: datetime | None = None
) -> bool:
    """Record that `payer_id` paid `payee` (a bettor's id, or HOUSE for the developers).

    Only the two people may mark it (for the developers, the payer). The amount may not exceed what
    the payer owes or what the payee is owed. `key` (one per form shown) makes a double submit
    record once; returns whether it was new.
    """
    from app.tote import queries  # the positions are a read model

    _check_bettor(by)
    if by.id not in (payer_id, payee):
        raise ValidationError(transfer="Only the payer or the payee can mark a transfer as done.")
    if payer_id == payee:
        raise ValidationError(transfer="A transfer needs two different people.")
    # One settle-up at a time: two people marking transfers at once cannot both take the same debt.
    db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('tote:settle-up'))"))
    if db.session.scalar(select(ToteTransaction.id).where(ToteTransaction.idempotency_key == f"tote:transfer:{key}")):
        return False  # this form was submitted already
    positions = queries.positions()
    owes = -positions.get(payer_id, 0)
    owed = positions.get(payee, 0)
    if amount_cents <= 0 or amount_cents > owes or amount_cents > owed:
        raise ValidationError(transfer="That transfer is no longer due: the list was brought up to date.")
    now = now or utcnow()
    payer = db.session.get(User, payer_id)
    payee_account = (
        ledger.account_id(AccountKind.HOUSE) if payee == HOUSE else ledger.account_id(AccountKind.BETTOR, int(payee))
    )
    payee_name = "the developers" if payee == HOUSE else db.session.get(User, int(payee)).name
    _transaction, created = ledger.post(
        f"tote:transfer:{key}",
        TransactionKind.TRANSFER,
        f"{payer.name} paid {payee_name} {amount_cents / 100:.2f}",
        now,
        [(ledger.account_id(AccountKind.BETTOR, payer_id), amount_cents), (payee_account, -amount_cents)],
        created_by_id=by.id,
    )
    return created
