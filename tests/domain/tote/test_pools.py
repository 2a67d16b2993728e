"""Pools built from order events, bets, withdrawals and settlement (US-280, US-281, US-290)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.events.models import HandledEvent
from app.notifications.models import OutboxEmail
from app.platform.validation import ValidationError
from app.tote import ledger, queries, services
from app.tote.models import AccountKind, Bet, PoolStatus, Settlement, ToteTransaction
from tests.support.factories import BettorFactory, ManagerFactory
from tests.support.tote import NOW, SLOT, bet, open_pool, order_event


@pytest.fixture
def ann(db):
    return BettorFactory(name="Ann")


@pytest.fixture
def bob(db):
    return BettorFactory(name="Bob")


def balance(user) -> int:
    return ledger.balance(ledger.account_id(AccountKind.BETTOR, user.id))


def test_us290_order_requested_opens_a_pool_that_closes_at_the_slot_start(db):
    pool = open_pool(101)
    assert (pool.order_id, pool.status, pool.service) == (101, PoolStatus.OPEN, "House cleaning")
    assert pool.closes_at == SLOT
    assert services.is_open(pool, NOW) and not services.is_open(pool, SLOT)
    assert [row.pool.order_id for row in queries.board(1, 50, now=NOW)[0]] == [101]
    assert queries.board(1, 50, now=SLOT)[0] == []  # off the board at the close time


def test_us290_a_bet_stakes_money_and_check_in_closes_the_pool(db, ann):
    pool = open_pool(102)
    placed = bet(ann, pool, "completed", "12,5")
    assert placed.amount_cents == 12_50
    assert balance(ann) == -12_50
    order_event(102, "order.started", at=NOW + timedelta(minutes=5))
    db.session.refresh(pool)
    assert pool.status == PoolStatus.CLOSED
    with pytest.raises(services.BettingClosed, match="closed"):
        bet(ann, pool, "completed", "1", at=NOW + timedelta(minutes=6))


def test_us290_a_bet_at_or_after_the_slot_start_is_refused_even_before_any_close_event(db, ann):
    pool = open_pool(103)
    with pytest.raises(services.BettingClosed) as refused:
        bet(ann, pool, "failed", "5", at=SLOT)
    assert "closed" in refused.value.errors["pool"][0]
    assert db.session.scalar(select(func.count()).select_from(Bet)) == 0


@pytest.mark.parametrize(
    ("outcome", "amount", "field", "message"),
    [
        ("completed", "1,234.5", "amount", "two ways"),
        ("completed", "0", "amount", "positive"),
        ("completed", "-5", "amount", "positive"),
        ("completed", "", "amount", "Enter an amount"),
        ("maybe", "5", "outcome", "Choose"),
    ],
)
def test_bad_bets_are_refused_with_a_message_per_field(db, ann, outcome, amount, field, message):
    pool = open_pool(104)
    with pytest.raises(ValidationError) as refused:
        bet(ann, pool, outcome, amount)
    assert message in " ".join(refused.value.errors[field])
    assert db.session.scalar(select(func.count()).select_from(Bet)) == 0


def test_us280_a_manager_without_the_bettor_role_cannot_bet(db):
    pool = open_pool(105)
    with pytest.raises(services.NotABettor):
        bet(ManagerFactory(), pool, "completed", "5")


def test_withdraw_while_open_returns_the_stake_and_is_refused_after_the_close(db, ann):
    pool = open_pool(106)
    first = bet(ann, pool, "completed", "10")
    second = bet(ann, pool, "failed", "4")
    services.withdraw_bet(ann, first.id, now=NOW + timedelta(minutes=1))
    assert balance(ann) == -4_00
    with pytest.raises(services.BettingClosed, match="already withdrawn"):
        services.withdraw_bet(ann, first.id, now=NOW + timedelta(minutes=2))
    with pytest.raises(services.BettingClosed, match="no longer be withdrawn"):
        services.withdraw_bet(ann, second.id, now=SLOT)
    kinds = db.session.scalars(select(ToteTransaction.kind).order_by(ToteTransaction.id)).all()
    assert kinds == ["stake", "stake", "withdrawal"]


def test_someone_elses_bet_cannot_be_withdrawn(db, ann, bob):
    pool = open_pool(107)
    placed = bet(ann, pool, "completed", "10")
    with pytest.raises(LookupError):
        services.withdraw_bet(bob, placed.id, now=NOW)


def test_us290_worked_example_winners_share_the_pot_and_each_bettor_gets_one_mail(db, ann, bob):
    carl = BettorFactory(name="Carl")
    pool = open_pool(108)
    bet(ann, pool, "completed", "10")
    bet(ann, pool, "completed", "20")  # several bets by one bettor
    bet(bob, pool, "completed", "10")
    bet(carl, pool, "cancelled", "60.01")
    order_event(108, "order.started", at=NOW + timedelta(hours=1))
    order_event(108, "order.completed", at=NOW + timedelta(hours=3))
    settlement = db.session.get(Settlement, pool.id)
    assert (settlement.pot_cents, settlement.winning_stakes_cents, settlement.house_cents) == (100_01, 40_00, 0)
    payouts = [bet.payout_cents for bet in queries.pool_bets(pool.id)]
    # Exact shares 25.0025, 50.005, 25.0025 -> 25.00, 50.01, 25.00 (the odd cent to the largest remainder).
    assert payouts == [25_00, 50_01, 25_00, 0]
    assert sum(payouts) == 100_01
    assert (balance(ann), balance(bob), balance(carl)) == (75_01 - 30_00, 25_00 - 10_00, -60_01)
    assert ledger.balance(ledger.account_id(AccountKind.STAKES)) == 0
    mails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "tote_settled")).all()
    assert sorted(mail.recipient for mail in mails) == sorted(person.email for person in (ann, bob, carl))
    ann_mail = next(mail for mail in mails if mail.recipient == ann.email)
    assert "you won 45.01" in ann_mail.subject and "net 45.01" in ann_mail.body_text


def test_us281_nobody_bet_on_what_happened_so_the_pot_goes_to_the_developers(db, ann, bob):
    pool = open_pool(109)
    bet(ann, pool, "completed", "7.5")
    bet(bob, pool, "cancelled", "2.5")
    order_event(109, "order.failed")
    settlement = db.session.get(Settlement, pool.id)
    assert (settlement.outcome, settlement.house_cents) == ("failed", 10_00)
    assert ledger.balance(ledger.account_id(AccountKind.HOUSE)) == 10_00
    assert queries.developers_pot().won_cents == 10_00
    assert [bet.payout_cents for bet in queries.pool_bets(pool.id)] == [0, 0]
    assert queries.positions() == {ann.id: -7_50, bob.id: -2_50, "house": 10_00}


def test_us290_a_pool_without_bets_settles_quietly(db):
    pool = open_pool(110)
    order_event(110, "order.cancelled")
    db.session.refresh(pool)
    assert pool.status == PoolStatus.SETTLED and pool.outcome == "cancelled"
    assert db.session.get(Settlement, pool.id).pot_cents == 0
    assert db.session.scalar(select(func.count()).select_from(ToteTransaction)) == 0


def test_us290_withdrawn_bets_are_not_in_the_pot(db, ann, bob):
    pool = open_pool(111)
    gone = bet(ann, pool, "completed", "50")
    bet(bob, pool, "completed", "5")
    services.withdraw_bet(ann, gone.id, now=NOW)
    order_event(111, "order.completed")
    assert db.session.get(Settlement, pool.id).pot_cents == 5_00
    assert balance(ann) == 0 and balance(bob) == 0


def test_us290_a_replayed_end_event_pays_once(db, ann, bob):
    pool = open_pool(112)
    bet(ann, pool, "completed", "10")
    bet(bob, pool, "failed", "10")
    order_event(112, "order.completed")
    order_event(112, "order.completed")  # a duplicate event, delivered too
    order_event(112, "order.failed")  # and a contradicting one: the first end wins
    assert balance(ann) == 10_00 and balance(bob) == -10_00
    assert (
        db.session.scalar(select(func.count()).select_from(ToteTransaction).where(ToteTransaction.kind == "settlement"))
        == 1
    )
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 2
    assert db.session.scalar(select(func.count()).select_from(HandledEvent).where(HandledEvent.consumer == "tote")) == 4


def test_an_end_event_for_an_order_the_tote_never_heard_of_still_settles(db):
    order_event(113, "order.cancelled")
    pool = services.locked_pool_for_order(113)
    assert pool.status == PoolStatus.SETTLED


def test_us281_settle_up_and_a_transfer_both_sides_see(db, ann, bob):
    pool = open_pool(114)
    bet(ann, pool, "completed", "10")
    bet(bob, pool, "failed", "30")
    open_bet_pool = open_pool(115)
    bet(ann, open_bet_pool, "completed", "99")  # still in play: not in the settle-up
    order_event(114, "order.completed")
    assert queries.positions() == {ann.id: 30_00, bob.id: -30_00, "house": 0}
    [transfer] = queries.settle_up_transfers()
    assert (transfer.payer, transfer.payee, transfer.amount_cents) == (bob.id, ann.id, 30_00)
    assert services.record_transfer(ann, bob.id, ann.id, 30_00, key="form-1", now=NOW) is True
    assert services.record_transfer(ann, bob.id, ann.id, 30_00, key="form-1", now=NOW) is False  # double submit
    assert queries.positions() == {ann.id: 0, bob.id: 0, "house": 0}
    assert queries.settle_up_transfers() == []
    for person in (ann, bob):
        [line] = queries.transfers_of(person.id)
        assert (line.payer_id, line.payee_id, line.amount_cents) == (bob.id, ann.id, 30_00)


def test_a_transfer_only_the_two_people_can_mark_and_never_more_than_is_due(db, ann, bob):
    carl = BettorFactory(name="Carl")
    pool = open_pool(116)
    bet(ann, pool, "completed", "10")
    bet(bob, pool, "failed", "10")
    order_event(116, "order.completed")
    with pytest.raises(ValidationError, match="payer or the payee"):
        services.record_transfer(carl, bob.id, ann.id, 10_00, key="k1")
    with pytest.raises(ValidationError, match="no longer due"):
        services.record_transfer(ann, bob.id, ann.id, 10_01, key="k2")
    with pytest.raises(ValidationError, match="no longer due"):
        services.record_transfer(ann, ann.id, bob.id, 1_00, key="k3")


def test_us281_losers_pay_the_developers(db, ann):
    pool = open_pool(117)
    bet(ann, pool, "completed", "10")
    order_event(117, "order.cancelled")
    [transfer] = queries.settle_up_transfers()
    assert (transfer.payer, transfer.payee) == (ann.id, "house")
    services.record_transfer(ann, ann.id, services.HOUSE, 10_00, key="k")
    assert queries.developers_pot().owed_cents == 0 and queries.developers_pot().won_cents == 10_00


def test_leaderboard_nets_winnings_minus_stakes_over_a_period(db, ann, bob):
    pool = open_pool(118)
    bet(ann, pool, "completed", "10")
    bet(bob, pool, "failed", "30")
    order_event(118, "order.completed", at=NOW + timedelta(hours=2))
    rows = queries.leaderboard()
    assert [(row.name, row.net_cents) for row in rows] == [("Ann", 30_00), ("Bob", -30_00)]
    assert queries.leaderboard(since=NOW + timedelta(hours=3)) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tote_entries SET amount_cents = amount_cents * 2",
        "DELETE FROM tote_entries",
        "UPDATE tote_transactions SET description = 'rewritten'",
        "DELETE FROM tote_transactions",
        "UPDATE tote_settlements SET pot_cents = 0",
    ],
)
def test_the_database_keeps_the_tote_ledger_append_only(db, ann, statement):
    pool = open_pool(119)
    bet(ann, pool, "completed", "10")
    order_event(119, "order.completed")
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text(statement))


def test_the_database_refuses_an_unbalanced_tote_transaction(db, ann):
    pool = open_pool(120)
    placed = bet(ann, pool, "completed", "10")
    transaction = db.session.scalar(
        select(ToteTransaction).where(ToteTransaction.idempotency_key == f"tote:bet:{placed.id}:stake")
    )
    with pytest.raises(DBAPIError, match="does not balance"):
        with db.session.begin_nested():
            db.session.execute(
                text(
                    "INSERT INTO tote_entries (transaction_id, account_id, amount_cents, occurred_at) "
                    "VALUES (:id, :account, 1, now())"
                ),
                {"id": transaction.id, "account": ledger.account_id(AccountKind.HOUSE)},
            )
            db.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    db.session.execute(text("SET CONSTRAINTS ALL DEFERRED"))


def test_a_second_settlement_row_is_refused_by_the_database(db):
    pool = open_pool(121)
    order_event(121, "order.completed")
    with pytest.raises(DBAPIError):
        with db.session.begin_nested():
            db.session.execute(
                text(
                    "INSERT INTO tote_settlements (pool_id, outcome, pot_cents, winning_stakes_cents, house_cents, "
                    "settled_at) VALUES (:id, 'failed', 0, 0, 0, now())"
                ),
                {"id": pool.id},
            )


def test_us290_a_bet_placed_after_the_check_in_but_before_its_event_arrived_is_void(db, ann, bob):
    pool = open_pool(122)
    bet(ann, pool, "completed", "10", at=NOW)
    late = bet(bob, pool, "failed", "10", at=NOW + timedelta(minutes=30))  # the check-in was at +20 min
    order_event(122, "order.started", at=NOW + timedelta(minutes=20))
    db.session.refresh(late)
    assert late.void and late.withdrawn_at is not None
    assert balance(bob) == 0
    order_event(122, "order.completed")
    assert db.session.get(Settlement, pool.id).pot_cents == 10_00
