"""The client's billing page (US-250, US-040): what this week will cost, invoices, every charge and payment.

Only the logged-in client's own money is shown; an invoice id of anyone else is a 404.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from app.billing import queries
from app.billing.models import AccountKind
from app.clients import bp
from app.orders import pricing
from app.web.pagination import page_args

LINES_PER_PAGE = 25
INVOICES_PER_PAGE = 12


def _discount(user_id: int) -> dict:
    paid = pricing.paid_total_cents(user_id)
    return {"paid_cents": paid, "percent": pricing.discount_percent(paid), "next": pricing.next_tier(paid)}


def _ledger(user_id: int) -> dict:
    page, per_page = page_args(LINES_PER_PAGE)
    account_id = queries.party_account_id(AccountKind.CLIENT, user_id)
    lines, has_next = queries.ledger_lines(account_id, page, per_page, sign=queries.natural_sign(AccountKind.CLIENT))
    return {"lines": lines, "page": page, "has_next": has_next}


def _invoices(user_id: int) -> dict:
    page = max(1, request.args.get("invoices_page", 1, type=int) or 1)
    rows, has_next = queries.party_invoices(AccountKind.CLIENT, user_id, page, INVOICES_PER_PAGE)
    return {"invoices": rows, "invoices_page": page, "invoices_has_next": has_next}


@bp.route("/billing")
def billing():
    me = current_user.id
    fragment = request.headers.get("HX-Request") and request.args.get("part")
    if fragment == "ledger":
        return render_template("clients/billing_ledger.html", **_ledger(me))
    if fragment == "invoices":
        return render_template("clients/billing_invoices.html", **_invoices(me))
    return render_template(
        "clients/billing.html",
        money=queries.client_money(me),
        unpaid=queries.unpaid_invoices(AccountKind.CLIENT, me),
        discount=_discount(me),
        **_ledger(me),
        **_invoices(me),
    )


@bp.route("/billing/invoices/<int:invoice_id>")
def billing_invoice(invoice_id: int):
    invoice = queries.own_invoice(invoice_id, AccountKind.CLIENT, current_user.id)
    if invoice is None:
        abort(404)
    return render_template(
        "clients/billing_invoice.html",
        invoice=invoice,
        lines=queries.invoice_lines(invoice),
        settlements=queries.invoice_settlements(invoice),
    )
