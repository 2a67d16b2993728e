"""Managers' pages laid out in real Chromium (issue 12, point 10): the service types table at a
1280 px desktop and a 390 px phone shows every Retire button inside the viewport, not behind a
horizontal scroll, and the button works; the client page fits a phone and its phone is a link."""

from __future__ import annotations

import pytest

from app.accounts import services as accounts
from app.demo.data import SERVICE_TYPES
from app.extensions import db
from app.orders import service_types
from tests.support.browser import PHONE, log_in

pytestmark = pytest.mark.slow
PASSWORD = "layout-password-1"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

# Scrolled to the middle of the screen vertically (never sideways), is the element entirely inside
# the viewport, and the one the browser would hit at its centre (not covered, not clipped by an
# overflow box)?
REACHABLE = """element => {
  element.scrollIntoView({block: 'center', inline: 'nearest'});
  const box = element.getBoundingClientRect();
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {
    inside: box.left >= 0 && box.top >= 0 && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
    hit: hit !== null && (hit === element || element.contains(hit)),
  };
}"""
OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth - window.innerWidth,
  tables: [...document.querySelectorAll('.table-wrap')].map(wrap => wrap.scrollWidth - wrap.clientWidth),
})"""


@pytest.fixture(scope="module")
def manager(app, live_stack):
    with app.app_context():
        for name, description, minutes, skills, consumables in SERVICE_TYPES:
            service_types.save_service_type(
                None,
                name=name,
                description=description,
                duration_minutes=minutes,
                skills=", ".join(skills),
                consumables="\n".join(consumables),
            )
        service_types.save_service_type(
            None,
            name="Deep spring cleaning of the whole house and garden shed",
            description="Everything, top to bottom. " * 6,
            skills="cleaning, gardening, repairs, heavy lifting",
            consumables="\n".join(["Job acceptance form", "Extra-long extension ladder", "Industrial vacuum"]),
        )
        client = accounts.create_client(
            "tom@example.com", "Tom Tester", "1 Yarn Street, Purrington", phone="+44 20 7946 0018", invite=False
        )
        accounts.create_staff("layout@example.com", "Layout Boss", ["manager"], password=PASSWORD)
        db.session.commit()
        return {"email": "layout@example.com", "client_id": client.id}


def _open(browser, live_stack, manager, size: dict):
    context = browser.new_context(base_url=live_stack.base_url, **size)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, manager["email"], PASSWORD)
    return context, page


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_every_retire_button_is_in_view_and_works(browser, live_stack, manager, size):
    context, page = _open(browser, live_stack, manager, size)
    try:
        page.goto("/manage/service-types")
        overflow = page.evaluate(OVERFLOW)
        assert overflow["page"] <= 0 and all(extra <= 0 for extra in overflow["tables"]), overflow
        buttons = page.locator("table.service-types button:has-text('Retire')")
        assert buttons.count() == len(SERVICE_TYPES) + 1
        for index in range(buttons.count()):
            button = buttons.nth(index)
            assert button.is_visible()
            where = button.evaluate(REACHABLE)
            assert where == {"inside": True, "hit": True}, (index, where, button.bounding_box())
        long_one = page.locator("table.service-types tr", has_text="Deep spring cleaning").locator("button")
        long_one.click()  # a real click at the button's place, not a form submit by script
        page.wait_for_url("**/retire")
        assert page.locator("h1").inner_text().startswith("Retire “Deep spring cleaning")
    finally:
        context.close()


def test_the_client_page_fits_a_phone_and_dials_the_client(browser, live_stack, manager):
    context, page = _open(browser, live_stack, manager, PHONE)
    try:
        page.goto(f"/manage/clients/{manager['client_id']}")
        overflow = page.evaluate(OVERFLOW)
        assert overflow["page"] <= 0 and all(extra <= 0 for extra in overflow["tables"]), overflow
        link = page.locator("a[href='tel:+442079460018']")
        assert link.inner_text() == "+44 20 7946 0018" and link.is_visible()
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/manage/orders", "/manage/billing", "/manage/clients", "/manage/system"])
def test_the_managers_lists_fit_a_phone(browser, live_stack, manager, path):
    """No page pushed sideways at 390 px (the orders filter's date inputs did by 4 px)."""
    context, page = _open(browser, live_stack, manager, PHONE)
    try:
        page.goto(path)
        overflow = page.evaluate(OVERFLOW)
        assert overflow["page"] <= 0, (path, overflow)
    finally:
        context.close()
