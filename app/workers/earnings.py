"""The worker's earnings page, phone first (US-260, US-270): this month, credits with who and why,
what is owed now, invoices with their status and every ledger line.

Only the logged-in worker's own money is shown; an invoice id of anyone else is a 404.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from app.billing import queries
from app.billing.models import AccountKind
from app.web.pagination import page_args
from app.workers import bp

LINES_PER_PAGE = 25
INVOICES_PER_PAGE = 12


def _ledger(user_id: int) -> dict:
    page, per_page = page_args(LINES_PER_PAGE)
    account_id = queries.party_account_id(AccountKind.WORKER, user_id)
    lines, has_next = queries.ledger_lines(account_id, page, per_page, sign=queries.natural_sign(AccountKind.WORKER))
    return {"lines": lines, "page": page, "has_next": has_next}


def _invoices(user_id: int) -> dict:
    page = max(1, request.args.get("invoices_page", 1, type=int) or 1)
    rows, has_next = queries.party_invoices(AccountKind.WORKER, user_id, page, INVOICES_PER_PAGE)
    return {"invoices": rows, "invoices_page": page, "invoices_has_next": has_next}


@bp.route("/earnings")
def earnings():
    me = current_user.id
    fragment = request.headers.get("HX-Request") and request.args.get("part")
    if fragment == "ledger":
        return render_template("workers/earnings_ledger.html", **_ledger(me))
    if fragment == "invoices":
        return render_template("workers/earnings_invoices.html", **_invoices(me))
    return render_template(
        "workers/earnings.html",
        money=queries.worker_money(me),
        credits=queries.worker_credits(me),
        **_ledger(me),
        **_invoices(me),
    )


@bp.route("/earnings/invoices/<int:invoice_id>")
def earnings_invoice(invoice_id: int):
    invoice = queries.own_invoice(invoice_id, AccountKind.WORKER, current_user.id)
    if invoice is None:
        abort(404)
    return render_template(
        "workers/earnings_invoice.html",
        invoice=invoice,
        lines=queries.invoice_lines(invoice),
        settlements=queries.invoice_settlements(invoice),
    )
