"""The quality journey in real Chromium on the live stack (gunicorn, worker.py, SMTP server):
a no-show fails an order (US-130), the quality consumer puts it in the queue (US-200), a manager on
a phone claims it, reviews it and writes a new hypothesis (US-210), the board shows it, and the
client and the worker each receive their own result mail without the internal findings (US-305).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.accounts import services as accounts
from app.extensions import db
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order
from app.platform.queues import enqueue
from app.quality.models import QueueItem
from tests.support.browser import log_in

pytestmark = pytest.mark.slow
PASSWORD = "quality-journey-password"


def next_working_day(app) -> datetime:
    zone = ZoneInfo(app.config["COMPANY_TIMEZONE"])
    working_days = {int(day) for day in app.config["WORKING_DAYS"].split(",")}
    day = datetime.now(zone).date() + timedelta(days=1)
    while day.weekday() not in working_days:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).replace(hour=10)


def wait_for(app, check, what: str, timeout: float = 45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            found = check()
            if found:
                return found
        time.sleep(0.25)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(scope="module")
def matched_order(app, live_stack):
    """A matched order of Tom's, assigned to Whiskers; its slot then passes without a check-in."""
    with app.app_context():
        service = service_types.save_service_type(None, name="Window cleaning", skills="cleaning", consumables="bucket")
        client = accounts.create_client("tom.q@example.com", "Tom Tester", "1 Yarn Street", invite=False)
        worker = accounts.create_worker(
            "whiskers.q@example.com", "Whiskers", 3, "Tabby", "grey", ["cleaning"], [], invite=False
        )
        accounts.create_staff("morgan.q@example.com", "Morgan Manager", ["manager"], password=PASSWORD)
        order = orders.request_order(
            client, service_type_id=service.id, description="Clean the windows", slot_start=next_working_day(app)
        )
        orders.assign_worker(order, worker)
        db.session.commit()
        return order.id


def test_a_no_show_is_reviewed_and_both_parties_get_the_result(app, live_stack, matched_order, new_page):
    order_id = matched_order
    with app.app_context():
        past = datetime.now(UTC) - timedelta(hours=3)
        # The kit was issued and nobody came: a no-show (without the kit it would be the company's failure).
        db.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(slot_start=past, slot_end=past + timedelta(hours=2), status="kit_issued")
        )
        db.session.commit()
        enqueue("default", "app.orders.jobs.fail_no_shows")
    wait_for(app, lambda: db.session.get(Order, order_id).status == "failed", "the no-show failed the order")
    wait_for(
        app,
        lambda: db.session.scalar(select(QueueItem.id).where(QueueItem.order_id == order_id)),
        "the failed order entered the quality queue",
    )

    manager = new_page(phone=True)
    log_in(manager, "morgan.q@example.com", PASSWORD)
    manager.goto("/manage/quality")
    row = manager.locator(f"tr[data-order='{order_id}']")
    assert "No-show" in row.inner_text()
    row.locator("button:has-text('Claim')").click()
    manager.wait_for_url("**/manage/quality/items/*")
    assert "The order is yours to review." in manager.content()
    for heading in ("Timeline", "Why this worker", "Kit and cookie", "Price and money", "Mails about it"):
        assert manager.locator(f"h2:has-text('{heading}')").count() == 1

    form = manager.locator("form.review-form")
    for name, score in (("punctuality", 1), ("work_quality", 2), ("communication", 2), ("kit", 4), ("satisfaction", 1)):
        form.locator(f"input[name={name}][value='{score}']").check()
    form.locator("select[name=fault]").select_option("worker")
    form.locator("select[name=root_cause]").select_option("Worker did not show up")
    form.locator("textarea[name=findings]").fill("SECRET-FINDING: his phone was off all day")
    form.locator("textarea[name=client_message]").fill("Sorry, Whiskers did not come. Your next booking is free.")
    form.locator("textarea[name=worker_message]").fill("You missed Tom's windows without a word. Call ahead.")
    form.locator("input[name=new_if_we]").fill("text workers the evening before each job")
    form.locator("input[name=new_then]").fill("fewer no-shows")
    form.locator("input[name=new_because]").fill("most no-shows forgot the time")
    form.locator("button:has-text('Submit the review')").click()
    manager.wait_for_load_state("networkidle")
    assert "Review saved" in manager.content()
    assert "If we text workers the evening before each job, then fewer no-shows" in manager.content()

    manager.goto("/manage/quality/hypotheses")
    board_row = manager.locator("tr[data-hypothesis]").filter(has_text="text workers the evening before")
    assert "proposed" in board_row.inner_text() and "100%" in board_row.inner_text()

    to_client = live_stack.wait_for_mail("tom.q@example.com", f"review of order #{order_id}")
    to_worker = live_stack.wait_for_mail("whiskers.q@example.com", f"review of order #{order_id}")
    client_text = to_client.get_body(preferencelist=("plain",)).get_content()
    worker_text = to_worker.get_body(preferencelist=("plain",)).get_content()
    assert "Your next booking is free." in client_text and "Call ahead." not in client_text
    assert "Call ahead." in worker_text and "next booking is free" not in worker_text
    for message in (to_client, to_worker):
        assert "SECRET-FINDING" not in message.as_string()
