"""The tote in real Chromium on the live stack (US-280, US-290): two managers bet on an order from
the live board, typing survives the board's refresh, the order is played through to completed,
each bettor sees their payout and receives the result mail."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.accounts import services as accounts
from app.extensions import db
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order
from app.tote.models import Pool
from tests.support.browser import log_in

pytestmark = pytest.mark.slow
PASSWORD = "journey-password-1"


def a_working_day_at_ten(app) -> datetime:
    zone = ZoneInfo(app.config["COMPANY_TIMEZONE"])
    working_days = {int(day) for day in app.config["WORKING_DAYS"].split(",")}
    day = datetime.now(zone).date() + timedelta(days=1)
    while day.weekday() not in working_days:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).replace(hour=10)


def wait_until(check, timeout: float = 45, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def setting(app, live_stack):
    with app.app_context():
        service = service_types.save_service_type(None, name="Tote cleaning", skills="cleaning", consumables="sponge")
        client = accounts.create_client("tina@example.com", "Tina Tester", "2 Yarn Street", invite=False)
        worker = accounts.create_worker("paws@example.com", "Paws", 3, "Tabby", "grey", ["cleaning"], [], invite=False)
        for email, name in [("ann.bets@example.com", "Ann Bettor"), ("bob.bets@example.com", "Bob Bettor")]:
            accounts.create_staff(email, name, ["manager", "bettor"], password=PASSWORD)
        order = orders.request_order(
            client, service_type_id=service.id, slot_start=a_working_day_at_ten(app), description="Tote journey"
        )
        db.session.commit()
        return {"order_id": order.id, "worker_id": worker.id}


def test_two_managers_bet_the_order_completes_each_sees_the_payout_and_gets_mail(app, live_stack, setting, new_page):
    order_id = setting["order_id"]

    def pool_id():
        with app.app_context():
            return db.session.scalar(db.select(Pool.id).where(Pool.order_id == order_id))

    pool = wait_until(pool_id, what="the tote to open the pool from order.requested")

    ann = new_page(phone=True)
    log_in(ann, "ann.bets@example.com", PASSWORD)
    ann.goto("/tote/")
    card = ann.locator(f"#pool-{pool}")
    card.wait_for()
    assert f"Order #{order_id}" in card.inner_text()
    assert ann.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1  # fits a phone
    card.locator("a:has-text('Bet')").click()
    ann.wait_for_url(f"**/tote/pools/{pool}#bet")
    ann.check("input[value=completed]")
    ann.fill("input[name=amount]", "10")
    # The pool's totals refresh every few seconds; what the bettor typed stays.
    ann.wait_for_timeout(6_000)
    assert ann.input_value("input[name=amount]") == "10"
    ann.click("button:has-text('Place bet')")
    ann.get_by_text("Bet placed: 10.00 on completed.").wait_for()

    bob = new_page()
    log_in(bob, "bob.bets@example.com", PASSWORD)
    bob.goto(f"/tote/pools/{pool}")
    bob.check("input[value=failed]")
    bob.fill("input[name=amount]", "1,234.5")
    bob.click("button:has-text('Place bet')")
    bob.get_by_text("could be read two ways").wait_for()  # inline, nothing placed
    bob.fill("input[name=amount]", "5")
    bob.click("button:has-text('Place bet')")
    bob.get_by_text("Bet placed: 5.00 on failed.").wait_for()
    # Bob's board, refreshed by htmx (no reload), shows the pot of both bets.
    bob.goto("/tote/")
    bob.locator(f"#pool-{pool}").get_by_text("15.00").wait_for(timeout=15_000)

    # The order is played through (matching assigns the worker; supply, then the worker's check-in and report).
    with app.app_context():
        wait_until(lambda: db.session.get(Order, order_id, populate_existing=True).status == "matched", what="matching")
        order = db.session.get(Order, order_id)
        worker = db.session.get(accounts.User, order.worker_id)
        orders.issue_kit(order)
        orders.start(order, worker, "checkin/tote.jpg")
        orders.complete(order, worker, "reports/tote.jpg")
        db.session.commit()

    mail = live_stack.wait_for_mail("ann.bets@example.com", f"order #{order_id} completed", timeout=60)
    assert "you won 5.00" in mail["Subject"]
    bob_mail = live_stack.wait_for_mail("bob.bets@example.com", f"order #{order_id} completed", timeout=60)
    assert "you lost 5.00" in bob_mail["Subject"]

    ann.goto("/tote/my")
    settled = ann.locator("table.bets").last
    assert "15.00" in settled.inner_text()  # paid the whole pot
    bob.goto(f"/tote/pools/{pool}")
    assert "settled: the order completed" in bob.content()
    bob.goto("/tote/settle-up")
    assert "Bob Bettor pays Ann Bettor 5.00" in " ".join(bob.locator(".transfer-list").first.inner_text().split())
