"""The client's billing page (US-250, US-040) and the worker's earnings page (US-260, US-270):
their numbers are the ledger's, they see only their own money, and the lists have no N+1."""

from __future__ import annotations

import re
from datetime import date

import pytest

from app.extensions import db as database
from tests.support import billing_pages as s
from tests.support.billing_pages import NOW, days
from tests.support.orders import make_order, make_service
from tests.support.web import count_statements


def _tile(html: str, heading_id: str) -> str:
    """The big number of the money tile with this heading."""
    match = re.search(rf'id="{heading_id}".*?class="money-big">(.*?)</p>', html, re.S)
    assert match, heading_id
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _client_money(db, people):
    client, other = people["client"], people["other_client"]
    paid_week = s.charge(client, 200_00, NOW - days(20))
    paid = s.invoice(client, "client", date(2026, 10, 26), 200_00, "paid", covers=[paid_week], paid_at=NOW - days(15))
    s.payment(client, 200_00, NOW - days(15), invoice=paid)
    last_week = s.charge(client, 150_00, NOW - days(6))
    failed = s.invoice(client, "client", date(2026, 11, 9), 150_00, "failed", covers=[last_week], last_error="declined")
    s.charge(client, 30_00, NOW - days(1), description="Ironing")  # this week, not invoiced yet
    s.charge(client, 12_50, NOW, description="Dusting")
    s.charge(other, 999_00, NOW)  # someone else's money
    return paid, failed


def test_client_billing_shows_the_ledger_numbers_US250(db, people, as_user):
    paid, failed = _client_money(db, people)
    html = as_user(people["client"]).get("/client/billing").get_data(as_text=True)
    assert _tile(html, "due-week") == "42.50"  # 30.00 + 12.50 uninvoiced this week
    assert _tile(html, "unpaid-head") == "150.00"
    assert "Payment failed" in html and "Paid" in html
    # every charge and payment, newest first, with its running balance (charges - payments = 192.50)
    assert html.index("Dusting") < html.index("Ironing")
    assert "192.50" in html
    assert "999.00" not in html  # not another client's
    assert f"/client/billing/invoices/{failed.id}" in html and f"/client/billing/invoices/{paid.id}" in html


def test_client_sees_the_discount_tier_and_the_next_one_US040(db, people, as_user):
    s.payment(people["client"], 10_500_00, NOW - days(3))
    html = as_user(people["client"]).get("/client/billing").get_data(as_text=True)
    assert _tile(html, "discount-head") == "5%"
    assert "Pay 9,500.01 more to reach 6%" in html


def test_a_charge_links_its_order_US250(db, people, as_user):
    order = make_order(people["client"], make_service())
    s.charge(people["client"], 80_00, NOW, order_id=order.id, description="Order: Test cleaning")
    html = as_user(people["client"]).get("/client/billing").get_data(as_text=True)
    assert f'href="/client/orders/{order.id}"' in html
    assert "Order: Test cleaning" in html


def test_client_invoice_page_lists_what_it_covers_and_others_are_404(db, people, as_user):
    _paid, failed = _client_money(db, people)
    theirs = s.invoice(people["other_client"], "client", date(2026, 11, 9), 5_00)
    browser = as_user(people["client"])
    page = browser.get(f"/client/billing/invoices/{failed.id}")
    assert page.status_code == 200
    assert "150.00" in page.get_data(as_text=True) and "declined" in page.get_data(as_text=True)
    assert browser.get(f"/client/billing/invoices/{theirs.id}").status_code == 404
    worker_invoice = s.invoice(people["worker"], "worker", date(2026, 10, 1), 5_00)
    assert browser.get(f"/client/billing/invoices/{worker_invoice.id}").status_code == 404
    assert browser.get("/client/billing/invoices/999999").status_code == 404


def test_the_ledger_table_is_an_htmx_fragment(db, people, as_user):
    for i in range(30):
        s.charge(people["client"], 1_00 + i, NOW - days(i / 10))
    browser = as_user(people["client"])
    fragment = browser.get("/client/billing?page=2", headers={"HX-Request": "true", "HX-Target": "ledger-lines"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'id="ledger-lines"' in body
    assert body.count('data-label="When"') == 5
    assert "HX-Request" in fragment.headers.get("Vary", "")
    full = browser.get("/client/billing?page=2").get_data(as_text=True)
    assert "<html" in full


def _worker_money(db, people):
    worker, manager = people["worker"], people["manager"]
    s.earning(worker, 300_00, NOW - days(30))  # October
    s.payout(worker, 300_00, NOW - days(14))
    s.earning(worker, 120_00, NOW - days(2))
    s.earning(worker, 60_00, NOW - days(1))
    s.fine(worker, 40_00, NOW - days(1))
    s.credit(worker, 25_00, manager, reason="Extra mile with the sofa")
    s.earning(people["other_worker"], 777_00, NOW)


def test_worker_earnings_show_the_ledger_numbers_US260(db, people, as_user):
    _worker_money(db, people)
    october = s.invoice(people["worker"], "worker", date(2026, 10, 1), 300_00, "paid", paid_at=NOW - days(14))
    html = as_user(people["worker"]).get("/work/earnings").get_data(as_text=True)
    month = re.search(r'id="month-head".*?</dl>', html, re.S).group(0)
    figures = re.findall(r"<dd>.*?>([-\d,.]+)<", month, re.S)
    assert figures == ["180.00", "-40.00", "25.00", "165.00"]  # earned, fines, credits, net
    assert _tile(html, "owed-head") == "165.00"  # 300 + 180 + 25 - 40 - 300 paid out
    assert "777.00" not in html
    assert f"/work/earnings/invoices/{october.id}" in html and "Paid" in html


def test_worker_sees_who_credited_and_why_US270(db, people, as_user):
    _worker_money(db, people)
    html = as_user(people["worker"]).get("/work/earnings").get_data(as_text=True)
    credits = re.search(r'id="credits-head".*?</section>', html, re.S).group(0)
    assert "Extra mile with the sofa" in credits and "by Mina Manager" in credits and "25.00" in credits


def test_worker_invoices_of_others_are_404(db, people, as_user):
    mine = s.invoice(people["worker"], "worker", date(2026, 10, 1), 10_00)
    theirs = s.invoice(people["other_worker"], "worker", date(2026, 10, 1), 10_00)
    client_invoice = s.invoice(people["client"], "client", date(2026, 11, 9), 10_00)
    browser = as_user(people["worker"])
    assert browser.get(f"/work/earnings/invoices/{mine.id}").status_code == 200
    assert browser.get(f"/work/earnings/invoices/{theirs.id}").status_code == 404
    assert browser.get(f"/work/earnings/invoices/{client_invoice.id}").status_code == 404


def test_pages_work_for_people_without_any_money(db, people, as_user):
    assert "0.00" in as_user(people["client"]).get("/client/billing").get_data(as_text=True)
    assert "No credits yet" in as_user(people["worker"]).get("/work/earnings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "url"),
    [("client", "/client/billing"), ("client", "/client/billing?page=2"), ("worker", "/work/earnings")],
)
def test_own_money_pages_have_no_n_plus_1(db, people, as_user, role, url):
    user = people[role]
    browser = as_user(user)
    order = make_order(people["client"], make_service())

    def add(count: int, offset: int) -> None:
        for i in range(count):
            when = NOW - days((offset + i) / 3)
            if role == "client":
                s.charge(user, 10_00, when, order_id=order.id)
                s.invoice(user, "client", date(2020, 1, 6) + days(7 * (offset + i)), 10_00, "failed")
            else:
                s.earning(user, 10_00, when, order_id=order.id)
                s.credit(user, 1_00, people["manager"], when=when)
                s.invoice(user, "worker", date(2020, 1, 1) + days(31 * (offset + i)), 10_00, "paid")

    def statements() -> int:
        browser.get(url)
        with count_statements(database.engine) as counter:
            assert browser.get(url).status_code == 200
        return counter[0]

    add(3, 0)
    few = statements()
    add(27, 3)
    many = statements()
    assert many == few, f"{url}: {few} statements with 3 lines, {many} with 30"
