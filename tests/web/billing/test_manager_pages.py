"""The managers' billing pages: the weekly chart (an accessible SVG), outstanding and failed invoices
with "mark paid", runs started by hand with a progress bar that polls, the sandbox settings, the
ledger of any party, and the worker's page with the credit form (US-220, US-230, US-270)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.billing.models import BillingRun, Invoice, LedgerTransaction, SandboxSetting
from app.extensions import db as database
from tests.support import billing_pages as s
from tests.support.billing_pages import NOW, days
from tests.support.fixtures import csrf_token
from tests.support.web import count_statements, field_errors


@pytest.fixture
def manager(people, as_user):
    return as_user(people["manager"])


# ---------------------------------------------------------------- the chart


def test_chart_is_an_svg_with_a_bar_per_week_and_series(db, people, manager):
    client, worker = people["client"], people["worker"]
    s.charge(client, 500_00, NOW)  # this week (from Mon 16 Nov)
    s.earning(worker, 300_00, NOW)
    s.charge(client, 100_00, NOW - days(7))  # the week of 9 Nov
    s.fine(worker, 40_00, NOW - days(7))
    html = manager.get("/manage/billing").get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and '<title id="chart-title">' in svg
    assert len(re.findall(r'class="bar bar-revenue"', svg)) == 12
    assert len(re.findall(r'class="bar bar-payouts"', svg)) == 12
    assert "Week of 16 Nov: revenue 500.00" in svg and "Week of 16 Nov: payouts 300.00" in svg
    heights = [float(h) for h in re.findall(r'class="bar bar-revenue"[^>]*height="([\d.]+)"', svg)]
    assert heights[-1] == pytest.approx(5 * heights[-2])  # 500 vs 100, the same scale
    table = re.search(r'<table class="weekly-totals">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr>\s*<th scope=\"row\".*?</tr>", table, re.S)
    assert len(rows) == 12
    assert re.findall(r'class="num">([-\d,.]+)<', rows[0]) == ["500.00", "300.00", "0.00"]
    assert re.findall(r'class="num">([-\d,.]+)<', rows[1]) == ["100.00", "0.00", "40.00"]


# ---------------------------------------------------------------- invoices and mark paid


def test_outstanding_and_failed_invoices_are_listed_US220(db, people, manager):
    client, worker = people["client"], people["worker"]
    failed = s.invoice(client, "client", date(2026, 11, 9), 150_00, "failed", last_error="card declined")
    manual = s.invoice(worker, "worker", date(2026, 10, 1), 70_00, "awaiting_manual")
    paid = s.invoice(client, "client", date(2026, 11, 2), 10_00, "paid")
    html = manager.get("/manage/billing").get_data(as_text=True)
    table = re.search(r'<div id="invoice-list".*?</table>', html, re.S).group(0)
    assert f"/manage/billing/invoices/{failed.id}" in table and "card declined" in table
    assert f"/manage/billing/invoices/{manual.id}/mark-paid" in table
    assert f"/manage/billing/invoices/{failed.id}/mark-paid" not in table  # only manual ones get the button
    assert f'/manage/billing/invoices/{paid.id}"' not in table


def test_mark_paid_posts_the_payout_and_records_the_manager(db, people, manager):
    worker = people["worker"]
    s.earning(worker, 70_00, NOW - days(40))
    invoice = s.invoice(worker, "worker", date(2026, 10, 1), 70_00, "awaiting_manual")
    response = manager.post(
        f"/manage/billing/invoices/{invoice.id}/mark-paid", data={"csrf_token": csrf_token(manager, "/manage/billing")}
    )
    assert response.status_code == 303
    database.session.expire_all()
    assert database.session.get(Invoice, invoice.id).status == "paid"
    payout = database.session.scalar(select(LedgerTransaction).where(LedgerTransaction.invoice_id == invoice.id))
    assert payout.kind == "payout" and payout.created_by_id == people["manager"].id
    again = manager.post(
        f"/manage/billing/invoices/{invoice.id}/mark-paid", data={"csrf_token": csrf_token(manager, "/manage/billing")}
    )
    assert again.status_code == 303
    assert "paid already" in manager.get("/manage/billing").get_data(as_text=True)
    assert (
        manager.post("/manage/billing/invoices/999999/mark-paid", data={"csrf_token": csrf_token(manager)}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/manage/billing/invoices", "/manage/billing/invoices"),
        ("https://evil.example/", "/manage/billing#invoices"),
        ("//evil.example/", "/manage/billing#invoices"),
        ("/\\evil.example/", "/manage/billing#invoices"),
    ],
)
def test_mark_paid_goes_back_only_to_a_path_on_this_site(db, people, manager, next_value, expected):
    invoice = s.invoice(people["worker"], "worker", date(2026, 10, 1), 70_00, "awaiting_manual")
    token = csrf_token(manager, "/manage/billing")
    response = manager.post(
        f"/manage/billing/invoices/{invoice.id}/mark-paid", data={"csrf_token": token, "next": next_value}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_invoice_page_for_managers(db, people, manager):
    charge = s.charge(people["client"], 40_00, NOW - days(6), description="Window cleaning")
    invoice = s.invoice(people["client"], "client", date(2026, 11, 9), 40_00, covers=[charge])
    html = manager.get(f"/manage/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert "Window cleaning" in html and "40.00" in html
    assert manager.get("/manage/billing/invoices/999999").status_code == 404


@pytest.mark.parametrize(
    ("breakdown", "shown", "not_shown"),
    [
        ({"charges": 4000, "items": 3, "late": 0}, ["Charges", "40.00", "Charges included", ">3<"], ["0.03", "Late"]),
        ({"charges": 4000, "items": 3, "late": 1}, ["From earlier periods", "1 posted after"], ["0.01"]),
        (
            {"earnings": 12000, "fines": -4000, "credits": 1000, "orders": 2, "late": 0},
            ["Earnings", "120.00", "Fines", "-40.00", "Credits", "10.00", "Orders included"],
            ["0.02", "Late"],
        ),
    ],
)
def test_invoice_breakdown_shows_counts_as_counts_and_explains_late_lines(
    db, people, manager, breakdown, shown, not_shown
):
    party, kind = (people["client"], "client") if "charges" in breakdown else (people["worker"], "worker")
    invoice = s.invoice(party, kind, date(2026, 11, 2), 40_00, breakdown=breakdown)
    html = manager.get(f"/manage/billing/invoices/{invoice.id}").get_data(as_text=True)
    summary = html[html.index('<dl class="meta">') : html.index("</dl>", html.index('<dl class="meta">'))]
    for text in shown:
        assert text in summary, text
    for text in not_shown:
        assert text not in summary, text


# ---------------------------------------------------------------- runs


def test_start_a_run_and_watch_its_progress_poll_until_done(db, people, manager):
    token = csrf_token(manager, "/manage/billing")
    response = manager.post("/manage/billing/runs", data={"kind": "weekly_clients", "csrf_token": token})
    assert response.status_code == 303
    run = database.session.scalar(select(BillingRun).order_by(BillingRun.id.desc()))
    assert run.kind == "weekly_clients" and run.status == "running" and run.started_by_id == people["manager"].id
    page = manager.get("/manage/billing").get_data(as_text=True)
    assert f'id="run-progress-{run.id}"' in page

    progress = manager.get(f"/manage/billing/runs/{run.id}/progress", headers={"HX-Request": "true"})
    body = progress.get_data(as_text=True)
    assert "<html" not in body and "<progress" in body
    assert 'hx-trigger="every 1s"' in body and f'hx-get="/manage/billing/runs/{run.id}/progress"' in body

    # a second start of the same kind is refused while it runs
    again = manager.post(
        "/manage/billing/runs", data={"kind": "weekly_clients", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 409 and "already running" in again.get_data(as_text=True)

    run.total, run.done, run.status = 4, 4, "done"
    database.session.flush()
    body = manager.get(f"/manage/billing/runs/{run.id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in body and 'value="4"' in body  # done: the bar stops polling


def test_start_run_by_htmx_returns_the_runs_fragment(db, people, manager):
    token = csrf_token(manager, "/manage/billing")
    response = manager.post(
        "/manage/billing/runs", data={"kind": "daily_close", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.startswith('<div id="billing-runs">') and "Daily close" in body
    bad = manager.post("/manage/billing/runs", data={"kind": "nonsense", "csrf_token": token})
    assert bad.status_code == 303
    assert manager.get("/manage/billing/runs/999999/progress").status_code == 404


# ---------------------------------------------------------------- the sandbox provider


def test_sandbox_settings_form(db, people, manager):
    token = csrf_token(manager, "/manage/billing")
    response = manager.post(
        "/manage/billing/sandbox", data={"fail_user_ids": "7, 3", "fail_rate": "25", "csrf_token": token}
    )
    assert response.status_code == 303
    setting = database.session.scalar(select(SandboxSetting))
    assert setting.fail_user_ids == [3, 7] and setting.fail_rate == 25
    html = manager.get("/manage/billing").get_data(as_text=True)
    assert 'value="3, 7"' in html and 'value="25"' in html

    bad = manager.post("/manage/billing/sandbox", data={"fail_user_ids": "x", "fail_rate": "150", "csrf_token": token})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert field_errors(body, "fail_rate") and field_errors(body, "fail_user_ids")


# ---------------------------------------------------------------- the ledger of any party


def test_ledger_of_any_party_with_running_balance(db, people, manager):
    client = people["client"]
    s.charge(client, 100_00, NOW - days(3), description="First")
    s.payment(client, 60_00, NOW - days(2))
    s.charge(client, 5_00, NOW - days(1), description="Second")
    index = manager.get("/manage/billing/ledger?q=" + client.email).get_data(as_text=True)
    account = re.search(r'/manage/billing/ledger\?account=(\d+)">' + re.escape(client.name), index)
    assert account, index
    assert "45.00" in index  # the balance in the list
    html = manager.get(f"/manage/billing/ledger?account={account.group(1)}").get_data(as_text=True)
    rows = re.findall(
        r'data-label="Amount" class="num">.*?>([-\d,.]+)<.*?data-label="Balance" class="num">.*?>([-\d,.]+)<',
        html,
        re.S,
    )
    assert rows == [("5.00", "45.00"), ("-60.00", "40.00"), ("100.00", "100.00")]
    by_user = manager.get(f"/manage/billing/ledger?user={client.id}&kind=client")
    assert by_user.status_code == 302 and by_user.headers["Location"].endswith(f"account={account.group(1)}")
    assert manager.get("/manage/billing/ledger?account=999999").status_code == 404
    assert manager.get(f"/manage/billing/ledger?user={people['other_client'].id}&kind=client").status_code == 404


def test_company_accounts_are_listed_with_natural_balances(db, people, manager):
    s.charge(people["client"], 100_00)
    s.earning(people["worker"], 60_00)
    html = manager.get("/manage/billing/ledger").get_data(as_text=True)
    assert "Company: revenue" in html and "Company: payouts" in html
    revenue = re.search(r"Company: revenue.*?class=\"num\">.*?>([-\d,.]+)<", html, re.S).group(1)
    assert revenue == "100.00"


# ---------------------------------------------------------------- the worker's page and credits (US-270)


def _credit(manager, worker_id: int, confirmed: bool = True, **data):
    """Post the credit form; confirmed unless asked not to (the confirmation step has its own test)."""
    page = manager.get(f"/manage/workers/{worker_id}").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_token(manager, f"/manage/workers/{worker_id}"), "token": token, **data}
    if confirmed:
        form["confirmed"] = "yes"
    return manager.post(f"/manage/workers/{worker_id}/credits", data=form), form


@pytest.mark.parametrize(("typed", "understood"), [("12,5", "Credit 12.50 units to"), ("-5", "Take back 5.00 units")])
def test_a_credit_shows_the_amount_understood_before_it_is_made(db, people, manager, typed, understood):
    response, _form = _credit(manager, people["worker"].id, confirmed=False, amount=typed, reason="Stayed late")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and understood in html
    assert 'name="confirmed" type="hidden" value="yes"' in html
    assert _credits_of(people["worker"]) == [], "nothing is credited before the confirmation"


def _credits_of(worker) -> list[LedgerTransaction]:
    database.session.expire_all()
    return list(
        database.session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == "credit").order_by(LedgerTransaction.id)
        )
    )


def test_worker_page_shows_profile_and_money(db, people, manager):
    worker = people["worker"]
    s.earning(worker, 120_00, NOW - days(2))
    s.fine(worker, 40_00, NOW - days(1))
    s.credit(worker, 10_00, people["manager"], reason="Birthday")
    s.invoice(worker, "worker", date(2026, 10, 1), 0, "nothing_due")
    html = manager.get(f"/manage/workers/{worker.id}").get_data(as_text=True)
    assert worker.name in html and worker.email in html and "Tabby" in html
    assert "90.00" in html  # owed: 120 - 40 + 10
    assert "Birthday" in html and "by Mina Manager" in html and "Nothing due" in html
    assert manager.get(f"/manage/workers/{people['client'].id}").status_code == 404
    assert manager.get("/manage/workers/999999").status_code == 404
    workers_list = manager.get("/manage/workers").get_data(as_text=True)
    assert f'href="/manage/workers/{worker.id}"' in workers_list


def test_credit_form_records_the_credit_with_the_manager_US270(db, people, manager):
    worker = people["worker"]
    response, form = _credit(manager, worker.id, amount="12.50", reason="Stayed late")
    assert response.status_code == 303
    [credit] = _credits_of(worker)
    assert credit.created_by_id == people["manager"].id and "Stayed late" in credit.description
    assert {e.amount_cents for e in credit.entries} == {1250, -1250}
    # the same form submitted twice credits once
    assert manager.post(f"/manage/workers/{worker.id}/credits", data=form).status_code == 303
    assert len(_credits_of(worker)) == 1
    html = manager.get(f"/manage/workers/{worker.id}").get_data(as_text=True)
    assert "Stayed late" in html and "by Mina Manager" in html
    worker_view = manager.get(f"/manage/billing/ledger?user={worker.id}&kind=worker", follow_redirects=True)
    assert "Stayed late" in worker_view.get_data(as_text=True)


def test_a_negative_credit_takes_money_back(db, people, manager):
    response, _form = _credit(manager, people["worker"].id, amount="-5", reason="Broken vase")
    assert response.status_code == 303
    [credit] = _credits_of(people["worker"])
    assert "Broken vase" in credit.description


@pytest.mark.parametrize("typed", ["12,5", "12.5", "12,50"])
def test_a_comma_decimal_credits_the_amount_typed_not_ten_times_it(db, people, manager, typed):
    worker = people["worker"]
    response, _form = _credit(manager, worker.id, amount=typed, reason="Stayed late")
    assert response.status_code == 303
    [credit] = _credits_of(worker)
    assert {e.amount_cents for e in credit.entries} == {12_50, -12_50}
    assert "credited 12.50 units" in manager.get(f"/manage/workers/{worker.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "10", "reason": ""}, "reason", "Say why."),
        ({"amount": "10", "reason": "   "}, "reason", "Say why."),
        ({"amount": "12.345", "reason": "why"}, "amount", "two decimals"),
        ({"amount": "ten", "reason": "why"}, "amount", "two decimals"),
        ({"amount": "1,234.50", "reason": "why"}, "amount", "two ways"),
        ({"amount": "", "reason": "why"}, "amount", "Enter an amount."),
        ({"amount": "0", "reason": "why"}, "amount", "cannot be zero"),
    ],
)
def test_credit_form_errors_are_422_next_to_the_field(db, people, manager, data, field, message):
    response, _form = _credit(manager, people["worker"].id, **data)
    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True), field)
    assert any(message in e for e in errors), errors
    assert _credits_of(people["worker"]) == []


# ---------------------------------------------------------------- no N+1


@pytest.mark.parametrize("page", ["billing", "ledger", "accounts", "worker"])
def test_manager_pages_have_no_n_plus_1(db, people, manager, page):
    from tests.support.factories import ClientFactory

    worker = people["worker"]

    def add(count: int, offset: int) -> None:
        for i in range(count):
            client = ClientFactory()
            when = NOW - days((offset + i) / 3)
            s.charge(client, 10_00, when)
            s.invoice(client, "client", date(2026, 11, 9), 10_00, "failed")
            s.earning(worker, 10_00, when)
            s.credit(worker, 1_00, people["manager"], when=when)
            s.invoice(worker, "worker", date(2020, 1, 1) + days(31 * (offset + i)), 10_00, "awaiting_manual")
        run = BillingRun(kind="daily_close", status="done", started_by_id=people["manager"].id, total=1, done=1)
        database.session.add(run)
        database.session.flush()

    from app.billing.queries import party_account_id

    def url() -> str:
        return {
            "billing": "/manage/billing",
            "ledger": f"/manage/billing/ledger?account={party_account_id('worker', worker.id)}",
            "accounts": "/manage/billing/ledger",
            "worker": f"/manage/workers/{worker.id}",
        }[page]

    def statements() -> int:
        manager.get(url())
        with count_statements(database.engine) as counter:
            assert manager.get(url()).status_code == 200
        return counter[0]

    add(3, 0)
    few = statements()
    add(27, 3)
    many = statements()
    assert many == few, f"{page}: {few} statements with 3, {many} with 30"


def test_chart_axis_is_labelled_in_units(db, people, manager):
    s.charge(people["client"], 444_00, NOW)
    svg = re.search(r"<svg.*?</svg>", manager.get("/manage/billing").get_data(as_text=True), re.S).group(0)
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)
    assert ticks == ["0", "125", "250", "375", "500"]


@pytest.mark.parametrize(
    ("summary", "words"),
    [
        (
            {"periods": ["2026-10-26", "2026-11-02"], "invoices": 12, "paid": 10, "failed": 2},
            "2 periods billed (2026-10-26 to 2026-11-02); 12 invoices; 10 paid; 2 failed",
        ),
        ({"periods": [], "invoices": 0}, "no period due"),
        ({"days": ["2026-11-17"]}, "1 day closed (2026-11-17)"),
        ({}, "nothing to do"),
    ],
)
def test_run_summaries_are_worded_for_people(summary, words):
    from app.billing.overview import run_summary_text

    assert run_summary_text(summary) == words
    assert "[" not in run_summary_text(summary)
