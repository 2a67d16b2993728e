"""Access (US-250, US-260): a client or worker sees only their own money, by any URL; only managers
reach /manage/billing* and the worker's money page; anonymous visitors go to the login page."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import billing_pages as s
from tests.support.factories import SupplyFactory
from tests.support.fixtures import isolated_client

MANAGER_URLS = [
    "/manage/billing",
    "/manage/billing?part=runs",
    "/manage/billing/ledger",
    "/manage/billing/ledger?account={account}",
    "/manage/billing/invoices/{invoice}",
    "/manage/billing/runs/1/progress",
    "/manage/workers/{worker}",
]
MANAGER_POSTS = [
    "/manage/billing/runs",
    "/manage/billing/runs/1/resume",
    "/manage/billing/parked/1/retry",
    "/manage/billing/automatic-runs",
    "/manage/billing/sandbox",
    "/manage/billing/invoices/{invoice}/mark-paid",
    "/manage/workers/{worker}/credits",
]


@pytest.fixture
def ids(db, people):
    charge = s.charge(people["client"], 10_00)
    invoice = s.invoice(people["client"], "client", date(2026, 11, 9), 10_00, "awaiting_manual", covers=[charge])
    from app.billing.queries import party_account_id

    return {
        "account": party_account_id("client", people["client"].id),
        "invoice": invoice.id,
        "worker": people["worker"].id,
    }


@pytest.mark.parametrize("role", ["client", "worker", "supply"])
def test_only_managers_reach_the_billing_dashboard(db, people, ids, as_user, role):
    user = people.get(role) or SupplyFactory()
    browser = as_user(user)
    for url in MANAGER_URLS:
        assert browser.get(url.format(**ids)).status_code == 403, url
        assert browser.get(url.format(**ids), headers={"HX-Request": "true"}).status_code == 403, url
    for url in MANAGER_POSTS:
        assert browser.post(url.format(**ids), data={}).status_code in (400, 403), url


def test_anonymous_visitors_are_sent_to_login(app, db, ids):
    browser = isolated_client(app)
    for url in [*MANAGER_URLS, "/client/billing", "/work/earnings", "/client/billing/invoices/{invoice}"]:
        response = browser.get(url.format(**ids))
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
        htmx = browser.get(url.format(**ids), headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login"), url


def test_clients_and_workers_keep_to_their_own_pages(db, people, ids, as_user):
    client = as_user(people["client"])
    worker = as_user(people["worker"])
    assert client.get("/work/earnings").status_code == 403
    assert worker.get("/client/billing").status_code == 403
    assert worker.get(f"/client/billing/invoices/{ids['invoice']}").status_code == 403
    other = as_user(people["other_client"])
    assert other.get(f"/client/billing/invoices/{ids['invoice']}").status_code == 404
    assert "10.00" not in other.get("/client/billing").get_data(as_text=True)


def test_billing_links_are_in_the_navigation(db, people, as_user):
    assert 'href="/client/billing"' in as_user(people["client"]).get("/client/").get_data(as_text=True)
    assert 'href="/work/earnings"' in as_user(people["worker"]).get("/work/").get_data(as_text=True)
    assert 'href="/manage/billing"' in as_user(people["manager"]).get("/manage/").get_data(as_text=True)
