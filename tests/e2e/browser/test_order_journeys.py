"""Whole journeys in real Chromium on the live stack (gunicorn, worker.py, SMTP server):

- a client books (US-020), the order is matched (US-060), supply issues the kit (US-160), the
  worker on a phone confirms, checks in with a photo and finishes with the report photo (US-180),
  the client sees it completed, and every expected email arrives, in order (US-300, 302, 303, 306);
- a no-show (US-130..132): the order fails, the client rebooks from the email link, and a
  different worker is matched.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.accounts import services as accounts
from app.extensions import db
from app.notifications.models import OutboxEmail
from app.orders import service_types
from app.orders.models import Order
from app.platform.queues import enqueue
from tests.support.browser import log_in
from tests.support.images import image_bytes

pytestmark = pytest.mark.slow
PASSWORD = "journey-password-1"
# An order's own page (the request form at /client/orders/new must not count as arrived).
ORDER_PAGE = re.compile(r".*/client/orders/\d+$")


def next_working_day(app) -> datetime:
    """Tomorrow or later, on a working day, in the company's time zone."""
    zone = ZoneInfo(app.config["COMPANY_TIMEZONE"])
    working_days = {int(day) for day in app.config["WORKING_DAYS"].split(",")}
    day = datetime.now(zone).date() + timedelta(days=1)
    while day.weekday() not in working_days:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def photo(tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(image_bytes("JPEG", (320, 240), (30, 140, 90)))
    return str(path)


@pytest.fixture(scope="module")
def people(app, live_stack):
    with app.app_context():
        service_types.save_service_type(None, name="Window cleaning", skills="cleaning", consumables="squeegee\nbucket")
        client = accounts.create_client("tom@example.com", "Tom Tester", "1 Yarn Street", invite=False)
        accounts.set_password(client, PASSWORD)
        for email, name in [("whiskers@example.com", "Whiskers"), ("mittens@example.com", "Mittens")]:
            worker = accounts.create_worker(email, name, 3, "Tabby", "grey", ["cleaning"], [], invite=False)
            accounts.set_password(worker, PASSWORD)
        accounts.create_staff("kits@example.com", "Kit Keeper", ["supply"], password=PASSWORD)
        db.session.commit()
    return {"client": "tom@example.com", "supply": "kits@example.com"}


def wait_for_status(app, order_id: int, status: str, timeout: float = 45) -> Order:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            order = db.session.get(Order, order_id)
            if order.status == status:
                db.session.expunge(order)
                return order
        time.sleep(0.25)
    raise AssertionError(f"order {order_id} never became {status}")


def wait_for_outbox_drained(app, last_template: str, timeout: float = 60) -> list[OutboxEmail]:
    """The outbox once the mail of the last step exists (events are delivered asynchronously) and all is sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            rows = list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.recipient, OutboxEmail.sequence)))
            arrived = any(row.template == last_template for row in rows)
            if arrived and all(row.status == "sent" for row in rows):
                db.session.expunge_all()
                return rows
        time.sleep(0.3)
    raise AssertionError("the outbox never drained")


def worker_email(app, worker_id: int) -> str:
    with app.app_context():
        return accounts.db.session.get(accounts.User, worker_id).email


def request_help(page, app, description: str) -> int:
    page.click("text=Request help")
    page.fill("textarea[name=description]", description)
    page.select_option("select[name=service_type]", label="Window cleaning")
    page.wait_for_function(
        "document.querySelector('#quote') && document.querySelector('#quote').innerText.includes('100.00')"
    )
    # Changing the service swaps in its start times (htmx): choose the time only after that landed.
    page.wait_for_load_state("networkidle")
    day = next_working_day(app).date().isoformat()
    page.select_option("select[name=day]", value=day)
    # The day's bookable times are swapped in (htmx): choose the time only after they landed.
    page.locator(f"#start-field[data-day='{day}']").wait_for()
    page.select_option("select[name=start]", value="10:00")
    assert page.input_value("select[name=start]") == "10:00"
    page.click("button:has-text('Send my request')")
    page.wait_for_url(ORDER_PAGE)
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_order_end_to_end_in_the_browser(app, live_stack, people, new_page, tmp_path):
    client = new_page()
    log_in(client, people["client"], PASSWORD)
    order_id = request_help(client, app, "Please clean the big windows")

    order = wait_for_status(app, order_id, "matched")
    assert order.price_cents == 100_00
    client.reload()
    assert "Matched" in client.content()

    supply = new_page()
    log_in(supply, people["supply"], PASSWORD)
    # The kit request is made by the supplies consumer after order.matched: it may lag a moment.
    row = supply.locator(f"#kit-{order_id}")
    deadline = time.monotonic() + 30
    while row.count() == 0 and time.monotonic() < deadline:
        supply.wait_for_timeout(300)
        supply.reload()
    row.locator("button:has-text('Cookie received')").click()
    # The row is swapped in place; issue only once it shows the cookie arrived (else it asks first).
    supply.locator(f"#kit-{order_id}").get_by_text("Received", exact=True).wait_for()
    supply.locator(f"#kit-{order_id} button:has-text('Issued')").click()
    wait_for_status(app, order_id, "kit_issued")

    worker = new_page(phone=True)
    log_in(worker, worker_email(app, order.worker_id), PASSWORD)
    worker.click(f"a[href='/work/orders/{order_id}']")
    assert "1 Yarn Street" in worker.content() and "Please clean the big windows" in worker.content()
    worker.click("button:has-text('Confirm')")
    worker.set_input_files("form[action$='/start'] input[type=file]", photo(tmp_path, "arrival.jpg"))
    worker.click("button:has-text('Started')")
    wait_for_status(app, order_id, "in_progress")
    worker.set_input_files("form[action$='/complete'] input[type=file]", photo(tmp_path, "report.jpg"))
    worker.click("button:has-text('Finished')")
    wait_for_status(app, order_id, "completed")
    assert worker.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1

    client.reload()
    assert "Completed" in client.content()
    assert client.locator("img[src*='/photos/report']").count() == 1

    rows = wait_for_outbox_drained(app, "order_completed")
    by_recipient: dict[str, list[str]] = {}
    for row in rows:
        by_recipient.setdefault(row.recipient, []).append(row.template)
    assert by_recipient[people["client"]] == [
        "order_requested",
        "order_matched_client",
        "order_kit_issued",  # supply issued the kit before the worker confirmed
        "order_confirmed",
        "order_started",
        "order_completed",
    ]
    assert by_recipient[worker_email(app, order.worker_id)] == ["order_matched_worker", "kit_ready"]
    assert by_recipient[people["supply"]][0] == "kit_needed"
    assert any(template == "cookie_request" for template in sum(by_recipient.values(), []))

    # What the SMTP server received: every message, each person's in sequence order.
    received: dict[str, list[int]] = {}
    for message in live_stack.messages():
        received.setdefault(message["To"], []).append(int(message["X-MCF-Sequence"]))
    for row in rows:
        assert row.sequence in received[row.recipient]
    for recipient, sequences in received.items():
        assert sequences == sorted(sequences), f"{recipient} got mail out of order: {sequences}"


def test_no_show_fails_and_the_client_rebooks_from_the_email(app, live_stack, people, new_page):
    client = new_page()
    log_in(client, people["client"], PASSWORD)
    order_id = request_help(client, app, "Dust the bookshelves")
    first = wait_for_status(app, order_id, "matched")

    # The kit was issued, the slot passes without a check-in: move it into the past, then let the
    # periodic job run (an order whose kit was never issued fails for another cause).
    with app.app_context():
        past = datetime.now(UTC) - timedelta(hours=2)
        db.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(slot_start=past, slot_end=past + timedelta(hours=2), status="kit_issued")
        )
        db.session.commit()
        enqueue("default", "app.orders.jobs.fail_no_shows")
    failed = wait_for_status(app, order_id, "failed")
    assert failed.finish_reason == "no_show"

    message = live_stack.wait_for_mail(people["client"], "book again")
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = next(word for word in body.split() if f"/client/orders/{order_id}/rebook" in word)
    client.goto(link)
    assert "Dust the bookshelves" in client.content()
    new_day = next_working_day(app) + timedelta(days=1)
    client.select_option("select[name=day]", value=new_day.date().isoformat())
    client.select_option("select[name=start]", value="14:00")
    client.click("button:has-text('Book again')")
    client.wait_for_url(ORDER_PAGE)
    copy_id = int(client.url.rstrip("/").rsplit("/", 1)[1])
    assert copy_id != order_id

    copy = wait_for_status(app, copy_id, "matched")
    assert copy.rebooked_from_id == order_id
    assert copy.worker_id != first.worker_id, "the copy must go to a different worker (US-132)"
    with app.app_context():
        assert db.session.get(Order, order_id).status == "failed"  # the failed order keeps its history
