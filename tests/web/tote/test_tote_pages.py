"""The bettors' pages (US-280, US-281, US-290): the live board and its fragment, a pool's page and
the bet form (no JavaScript and htmx, errors inline), withdraw, my bets, leaderboard, settle-up."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db as database
from app.platform.clock import utcnow
from app.tote import queries, services
from app.tote.models import Bet, ToteTransaction
from tests.support.factories import FACTORY_FOR_ROLE, BettorFactory
from tests.support.fixtures import csrf_token, login
from tests.support.tote import order_event
from tests.support.web import count_statements, field_errors

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ann(db):
    return BettorFactory(name="Ann Bettor")


@pytest.fixture
def bob(db):
    return BettorFactory(name="Bob Bettor")


@pytest.fixture
def future_slot():
    return (utcnow() + timedelta(days=1)).replace(microsecond=0)


def open_pool(order_id, slot):
    order_event(order_id, "order.requested", slot, at=utcnow() - timedelta(minutes=5))
    return services.locked_pool_for_order(order_id)


def count_bets() -> int:
    return database.session.scalar(select(func.count()).select_from(Bet))


def test_us290_the_board_lists_open_pools_with_totals_and_payout_per_unit(client, ann, bob, future_slot):
    pool = open_pool(301, future_slot)
    services.place_bet(ann, pool.id, "completed", "30")
    services.place_bet(bob, pool.id, "failed", "10")
    login(client, ann)
    html = client.get("/tote/").get_data(as_text=True)
    assert "Order #301" in html and "House cleaning" in html
    assert "40.00" in html  # the pot
    assert "&times;1.33" in html and "&times;4.00" in html  # 40/30 and 40/10 per unit
    assert 'hx-trigger="every 5s"' in html


def test_us290_the_board_fragment_is_polled_without_the_page_or_any_form(client, ann, future_slot):
    open_pool(302, future_slot)
    login(client, ann)
    response = client.get("/tote/", headers={**HTMX, "HX-Target": "board"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="board"') and "<form" not in html and "<html" not in html
    assert "Order #302" in html
    assert "HX-Request" in response.headers.get("Vary", "")


def test_us290_closed_and_settled_pools_move_off_the_board(client, ann, future_slot):
    open_pool(303, future_slot)
    open_pool(304, future_slot)
    order_event(303, "order.started", future_slot, at=utcnow())
    login(client, ann)
    html = client.get("/tote/", headers={**HTMX, "HX-Target": "board"}).get_data(as_text=True)
    assert "Order #304" in html and "Order #303" not in html


def test_the_board_runs_a_fixed_number_of_statements_however_many_pools(client, app, ann, future_slot):
    login(client, ann)
    for order_id in range(310, 313):
        pool = open_pool(order_id, future_slot)
        services.place_bet(ann, pool.id, "completed", "1")
    with count_statements(database.engine) as few:
        client.get("/tote/")
    for order_id in range(313, 333):
        pool = open_pool(order_id, future_slot)
        services.place_bet(ann, pool.id, "failed", "2")
    with count_statements(database.engine) as many:
        html = client.get("/tote/").get_data(as_text=True)
    assert html.count('class="pool-card"') == 23
    assert many[0] == few[0]


def test_us290_a_bet_without_javascript_redirects_to_the_pool(client, ann, future_slot):
    pool = open_pool(320, future_slot)
    login(client, ann)
    page = client.get(f"/tote/pools/{pool.id}").get_data(as_text=True)
    assert 'name="amount"' in page and 'value="completed"' in page
    response = client.post(
        f"/tote/pools/{pool.id}/bets",
        data={"outcome": "completed", "amount": "12,5", "csrf_token": csrf_token(client, f"/tote/pools/{pool.id}")},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/tote/pools/{pool.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bet placed: 12.50 on completed." in page and "Ann Bettor" in page


def test_us290_a_bet_with_htmx_swaps_the_form_and_errors_appear_next_to_the_field(client, ann, future_slot):
    pool = open_pool(321, future_slot)
    login(client, ann)
    token = csrf_token(client, f"/tote/pools/{pool.id}")
    bad = client.post(
        f"/tote/pools/{pool.id}/bets",
        data={"outcome": "completed", "amount": "1,234.5", "csrf_token": token},
        headers=HTMX,
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="bet">')
    assert any("two ways" in message for message in field_errors(html, "amount"))
    assert 'value="1,234.5"' in html  # what the bettor typed stays
    assert count_bets() == 0
    good = client.post(
        f"/tote/pools/{pool.id}/bets", data={"outcome": "failed", "amount": "3", "csrf_token": token}, headers=HTMX
    )
    assert good.status_code == 200 and "Bet placed: 3.00 on failed." in good.get_data(as_text=True)
    assert count_bets() == 1


def test_us290_a_bet_on_a_closed_pool_is_refused_with_a_clear_message(client, ann, future_slot):
    pool = open_pool(322, future_slot)
    order_event(322, "order.started", future_slot, at=utcnow())
    login(client, ann)
    token = csrf_token(client, "/tote/")
    response = client.post(
        f"/tote/pools/{pool.id}/bets", data={"outcome": "completed", "amount": "3", "csrf_token": token}, headers=HTMX
    )
    assert response.status_code == 409
    assert "has closed" in response.get_data(as_text=True)
    assert count_bets() == 0


def test_a_missing_pool_is_404(client, ann):
    login(client, ann)
    assert client.get("/tote/pools/999999").status_code == 404


def test_us290_my_bets_withdraw_and_someone_elses_bet_is_404(client, ann, bob, future_slot):
    pool = open_pool(330, future_slot)
    mine = services.place_bet(ann, pool.id, "completed", "8")
    theirs = services.place_bet(bob, pool.id, "completed", "9")
    login(client, ann)
    html = client.get("/tote/my").get_data(as_text=True)
    assert "#330" in html and "8.00" in html and "Withdraw" in html
    token = csrf_token(client, "/tote/my")
    assert client.post(f"/tote/bets/{theirs.id}/withdraw", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/tote/bets/{mine.id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 303
    database.session.expire_all()
    assert database.session.get(Bet, mine.id).withdrawn_at is not None
    assert database.session.get(Bet, theirs.id).withdrawn_at is None


def test_us290_withdraw_after_the_close_is_refused(client, ann, future_slot):
    pool = open_pool(331, future_slot)
    mine = services.place_bet(ann, pool.id, "completed", "8")
    order_event(331, "order.started", future_slot, at=utcnow())
    login(client, ann)
    response = client.post(
        f"/tote/bets/{mine.id}/withdraw", data={"csrf_token": csrf_token(client, "/tote/my")}, follow_redirects=True
    )
    assert "can no longer be withdrawn" in response.get_data(as_text=True)
    database.session.expire_all()
    assert database.session.get(Bet, mine.id).withdrawn_at is None


def test_us290_settled_bets_show_what_each_paid_and_the_pool_page_shows_every_bet(client, ann, bob, future_slot):
    pool = open_pool(340, future_slot)
    services.place_bet(ann, pool.id, "completed", "10")
    services.place_bet(bob, pool.id, "cancelled", "30")
    order_event(340, "order.completed", future_slot, at=utcnow())
    login(client, ann)
    html = client.get("/tote/my").get_data(as_text=True)
    assert "Settled bets" in html and "40.00" in html and "30.00" in html
    page = client.get(f"/tote/pools/{pool.id}").get_data(as_text=True)
    assert "Bob Bettor" in page and "Ann Bettor" in page and "settled: the order completed" in page
    assert '<form method="post" action="/tote/pools' not in page  # no bet form on a settled pool


def test_us281_leaderboard_and_settle_up_with_a_transfer_both_sides_see(client, new_client, ann, bob, future_slot):
    pool = open_pool(350, future_slot)
    services.place_bet(ann, pool.id, "completed", "10")
    services.place_bet(bob, pool.id, "failed", "25")
    order_event(350, "order.completed", future_slot, at=utcnow())
    login(client, ann)
    board = client.get("/tote/leaderboard?period=all").get_data(as_text=True)
    assert board.index("Ann Bettor") < board.index("Bob Bettor") and "-25.00" in board
    assert client.get("/tote/leaderboard?period=nonsense").status_code == 400
    page = client.get("/tote/settle-up").get_data(as_text=True)
    assert re.search(r"<strong>Bob Bettor</strong> pays <strong>Ann Bettor</strong> <span class=\"amount\">25.00", page)
    form = dict(re.findall(r'name="(payer|payee|amount_cents|token|csrf_token)" type="hidden" value="([^"]*)"', page))
    assert form["amount_cents"] == "2500"
    response = client.post("/tote/settle-up/transfers", data=form)
    assert response.status_code == 303
    assert client.post("/tote/settle-up/transfers", data=form).status_code == 303  # a double submit: once
    assert (
        database.session.scalar(
            select(func.count()).select_from(ToteTransaction).where(ToteTransaction.kind == "transfer")
        )
        == 1
    )
    other = new_client()
    login(other, bob)
    bob_page = other.get("/tote/settle-up").get_data(as_text=True)
    assert "Everyone is square." in bob_page
    assert re.search(r"<strong>Bob Bettor</strong> paid <strong>Ann Bettor</strong>", bob_page)
    assert queries.positions()[bob.id] == 0


def test_a_transfer_that_is_not_due_is_refused(client, ann, bob):
    login(client, ann)
    token = csrf_token(client, "/tote/settle-up")
    response = client.post(
        "/tote/settle-up/transfers",
        data={"payer": bob.id, "payee": ann.id, "amount_cents": "500", "token": "x", "csrf_token": token},
    )
    assert response.status_code == 409 and "no longer due" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["client", "worker", "manager", "supply"])
def test_us280_non_bettors_are_refused_everywhere(client, ann, future_slot, role):
    pool = open_pool(360, future_slot)
    bet = services.place_bet(ann, pool.id, "completed", "5")
    login(client, FACTORY_FOR_ROLE[role]())
    token = csrf_token(client, "/login")
    for url in (
        "/tote/",
        "/tote/?part=board",
        f"/tote/pools/{pool.id}",
        "/tote/my",
        "/tote/leaderboard",
        "/tote/settle-up",
    ):
        assert client.get(url).status_code == 403, url
    posts = [
        (f"/tote/pools/{pool.id}/bets", {"outcome": "completed", "amount": "5"}),
        (f"/tote/bets/{bet.id}/withdraw", {}),
        ("/tote/settle-up/transfers", {"payer": ann.id, "payee": "house", "amount_cents": "1", "token": "t"}),
    ]
    for url, data in posts:
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    assert count_bets() == 1


def _settled_history(first_order: int, count: int, ann, bob, slot):
    for order_id in range(first_order, first_order + count):
        pool = open_pool(order_id, slot)
        services.place_bet(ann, pool.id, "completed", "2")
        services.place_bet(bob, pool.id, "failed", "1")
        order_event(order_id, "order.completed", slot, at=utcnow())
        services.record_transfer(bob, bob.id, ann.id, 1_00, key=f"history-{order_id}")


@pytest.mark.parametrize("url", ["/tote/my", "/tote/settle-up", "/tote/leaderboard?period=all"])
def test_list_pages_run_a_fixed_number_of_statements(client, ann, bob, future_slot, url):
    login(client, ann)
    _settled_history(370, 2, ann, bob, future_slot)
    with count_statements(database.engine) as few:
        assert client.get(url).status_code == 200
    _settled_history(372, 6, ann, bob, future_slot)
    with count_statements(database.engine) as many:
        assert client.get(url).status_code == 200
    assert many[0] == few[0]
