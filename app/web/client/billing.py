"""The client's billing page (US-250, US-040): what this week will cost, invoices, every charge and payment.

Only the logged-in client's own money is shown; an invoice id of anyone else is a 404.
"""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from app.billing import queries, statements
from app.billing.models import AccountKind
from app.orders import pricing
from app.web.client.blueprint import bp
from app.web.core.htmx import htmx_target
from app.web.shared.party_money import invoices_part, ledger_part


def _discount(user_id: int) -> dict:
    paid = pricing.paid_total_cents(user_id)
    return {"paid_cents": paid, "percent": pricing.discount_percent(paid), "next": pricing.next_tier(paid)}


@bp.route("/billing")
def billing():
    me = current_user.id
    target = htmx_target()
    if target == "ledger-lines":
        return render_template("client/_billing_ledger.html", **ledger_part(AccountKind.CLIENT, me))
    if target == "invoice-list":
        return render_template("client/_billing_invoices.html", **invoices_part(AccountKind.CLIENT, me))
    return render_template(
        "client/billing.html",
        money=statements.client_money(me),
        unpaid=queries.unpaid_invoices(AccountKind.CLIENT, me),
        discount=_discount(me),
        **ledger_part(AccountKind.CLIENT, me),
        **invoices_part(AccountKind.CLIENT, me),
    )


@bp.route("/billing/invoices/<int:invoice_id>")
def billing_invoice(invoice_id: int):
    invoice = queries.own_invoice(invoice_id, AccountKind.CLIENT, current_user.id)
    if invoice is None:
        abort(404)
    return render_template(
        "client/billing_invoice.html",
        invoice=invoice,
        lines=queries.invoice_lines(invoice),
        settlements=queries.invoice_settlements(invoice),
    )
