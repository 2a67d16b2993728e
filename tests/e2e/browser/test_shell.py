"""The page shell in real Chromium: CSP-clean pages, htmx loaded, login, phone layout, and the
foundation's promise (US-010, US-300): a manager creates a worker and the invitation arrives."""

from __future__ import annotations

import pytest

from app.accounts import services as accounts
from app.extensions import db
from tests.support.browser import log_in

pytestmark = pytest.mark.slow
PASSWORD = "browser-password-1"


@pytest.fixture(scope="module")
def manager(app, live_stack):
    with app.app_context():
        user = accounts.create_staff("boss@example.com", "Boss Cat", ["manager", "bettor"], password=PASSWORD)
        db.session.commit()
        return user.email


def test_login_page_has_no_csp_violations_and_loads_htmx(new_page):
    page = new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto("/login")
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.locator("h1").inner_text() == "Log in"
    assert not problems, problems


def test_manager_creates_worker_and_invitation_arrives(new_page, live_stack, manager):
    page = new_page()
    log_in(page, manager, PASSWORD)
    assert page.url.endswith("/manage/")
    page.click("text=Workers")
    page.fill("input[name=email]", "fresh@example.com")
    page.fill("input[name=name]", "Fresh Cat")
    page.fill("input[name=age]", "2")
    page.fill("input[name=strengths]", "cleaning, cooking")
    page.click("button:has-text('Create worker')")
    assert "was created" in page.locator(".flash").inner_text()
    message = live_stack.wait_for_mail("fresh@example.com", "Welcome to MCF")
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = next(word for word in body.split() if "/invitation/" in word)

    invited = new_page(phone=True)
    invited.goto(link)
    invited.fill("input[name=password]", "a brand new password")
    invited.fill("input[name=confirm]", "a brand new password")
    invited.click("main button[type=submit]")
    assert invited.url.endswith("/work/")
    assert "Fresh Cat" in invited.content()


def test_wrong_password_shows_message_next_to_field(new_page, manager):
    page = new_page()
    log_in(page, manager, "not the password")
    assert "wrong" in page.locator(".field.has-error .errors").inner_text()


def test_phone_layout_has_no_horizontal_scroll(new_page, manager):
    page = new_page(phone=True)
    log_in(page, manager, PASSWORD)
    for path in ["/manage/", "/manage/workers", "/manage/clients", "/manage/outbox"]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
