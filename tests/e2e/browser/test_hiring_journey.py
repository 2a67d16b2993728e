"""The hiring journey in real Chromium on the live stack (gunicorn, worker.py, SMTP server):
an applicant applies on a phone (the ALTCHA widget solves its challenge in the browser), confirms
from the mail, a manager assigns the tests, the applicant takes them, the manager hires, and the
new worker sets a password from the invitation and is matched to a new order (US-080..120, 301)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.accounts import services as accounts
from app.extensions import db
from app.hiring import services as hiring
from app.orders import service_types
from app.orders import services as orders
from app.orders.models import Order
from tests.e2e.browser.test_order_journeys import next_working_day, photo
from tests.support.browser import log_in

pytestmark = pytest.mark.slow
PASSWORD = "journey-password-1"
LINK = re.compile(r"https?://\S+")


def link_in(message, part: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return next(url for url in LINK.findall(body) if part in url)


@pytest.fixture(scope="module")
def hiring_setup(app, live_stack):
    with app.app_context():
        manager = accounts.create_staff("boss@example.com", "Boss", ["manager"], password=PASSWORD)
        test = hiring.save_test(
            None, name="Window test", description="", trait="windows", time_limit_minutes=5, pass_mark_percent=50
        )
        hiring.save_question(
            test,
            None,
            kind="single",
            text="Squeegee or sponge first?",
            choices="Sponge\nSqueegee",
            correct="2",
            points=1,
        )
        hiring.save_question(
            test, None, kind="multiple", text="Safe on glass?", choices="Vinegar\nSand\nWater", correct="1, 3", points=2
        )
        hiring.save_question(
            test, None, kind="number", text="Panes in a 2 x 3 window?", choices="", correct="6", points=1
        )
        vacancy = hiring.save_vacancy(None, title="Window cat", slug="window-cat", description="Windows.", is_open=True)
        hiring.set_vacancy_tests(vacancy, [test.id])
        service_types.save_service_type(None, name="Window washing", skills="windows", consumables="squeegee")
        client = accounts.create_client("tess@example.com", "Tess Tester", "2 Yarn Street", invite=False)
        accounts.set_password(client, PASSWORD)
        db.session.commit()
        return {"manager": manager.email, "client_id": client.id}


def test_apply_confirm_test_hire_and_work(app, live_stack, hiring_setup, new_page, tmp_path):
    applicant = new_page(phone=True)
    applicant.goto("/careers/")
    applicant.click("text=Window cat")
    applicant.fill("input[name=name]", "Whisky Window")
    applicant.fill("input[name=email]", "whisky@example.com")
    applicant.fill("input[name=phone]", "+44 7700 900123")
    applicant.fill("input[name=age]", "3")
    applicant.fill("input[name=breed]", "Bengal")
    applicant.fill("input[name=coat_colour]", "spotted")
    applicant.fill("textarea[name=about]", "I leave no streaks.")
    applicant.set_input_files("input[name=photo]", photo(tmp_path, "me.jpg"))
    # The widget solves the proof of work in a web worker and puts the payload in the form.
    expect(applicant.locator("input[name=altcha]")).to_have_value(re.compile(r".{20,}"), timeout=30_000)
    applicant.click("button:has-text('Send my application')")
    applicant.wait_for_url(re.compile(r".*/careers/window-cat/sent$"))
    assert "check your mail" in applicant.inner_text("main").lower()

    confirm = live_stack.wait_for_mail("whisky@example.com", "Confirm your application")
    applicant.goto(link_in(confirm, "/careers/confirm/"))
    applicant.click("button:has-text('Confirm my application')")
    applicant.wait_for_url(re.compile(r".*/careers/application/.+"))

    manager = new_page()
    log_in(manager, hiring_setup["manager"], PASSWORD)
    manager.goto("/manage/hiring")
    manager.click("text=Whisky Window")
    manager.click("button:has-text('Assign tests')")
    manager.wait_for_selector("text=The tests are assigned")

    tests_mail = live_stack.wait_for_mail("whisky@example.com", "Your tests")
    applicant.goto(link_in(tests_mail, "/careers/application/"))
    applicant.click("button:has-text('Start this test')")
    applicant.wait_for_selector("text=Time left")
    assert "correct" not in applicant.content().lower()
    saved = applicant.locator("fieldset .saved")
    applicant.get_by_label("Squeegee", exact=True).check()
    expect(saved.nth(0)).to_have_text("Saved.")
    applicant.get_by_label("Vinegar", exact=True).check()
    applicant.get_by_label("Water", exact=True).check()
    expect(saved.nth(1)).to_have_text("Saved.")
    applicant.fill("input[inputmode=decimal]", "6")
    expect(saved.nth(2)).to_have_text("Saved.")
    applicant.reload()  # answers were saved as they were given: the reload resumes
    assert applicant.get_by_label("Squeegee", exact=True).is_checked()
    assert applicant.get_by_label("Water", exact=True).is_checked()
    applicant.click("button:has-text('Hand in this test')")
    applicant.wait_for_selector("text=4 / 4 points")

    manager.reload()
    assert "pass mark" in manager.inner_text("main")
    manager.click("button:has-text('Hire')")
    manager.wait_for_selector("text=is a worker now")

    invitation = live_stack.wait_for_mail("whisky@example.com", "set your password")
    worker = new_page(phone=True)
    worker.goto(link_in(invitation, "/invitation/"))
    worker.fill("input[name=password]", PASSWORD)
    worker.fill("input[name=confirm]", PASSWORD)
    worker.click("button:has-text('Set password')")
    worker.wait_for_url(re.compile(r".*/work/?$"))

    with app.app_context():  # a new order for the skill the test measured goes to the new worker
        client = db.session.get(accounts.User, hiring_setup["client_id"])
        service = next(s for s in service_types.orderable_service_types() if s.name == "Window washing")
        zone = ZoneInfo(app.config["COMPANY_TIMEZONE"])
        start = datetime.combine(next_working_day(app).date(), datetime.min.time(), tzinfo=zone) + timedelta(hours=10)
        order = orders.request_order(client, service_type_id=service.id, description="Windows", slot_start=start)
        db.session.commit()
        order_id = order.id
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        with app.app_context():
            matched = db.session.get(Order, order_id)
            if matched.worker_id is not None:
                assert matched.worker.email == "whisky@example.com"
                assert matched.worker.worker_profile.strengths == ["windows"]
                break
        time.sleep(0.3)
    else:
        raise AssertionError("the new order was never matched")
    worker.goto("/work/")
    assert "Window washing" in worker.inner_text("main")
