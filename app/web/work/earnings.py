"""The worker's earnings page, phone first (US-260, US-270): this month, credits with who and why,
what is owed now, invoices with their status and every ledger line.

Only the logged-in worker's own money is shown; an invoice id of anyone else is a 404.
"""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from app.billing import queries, statements
from app.billing.models import AccountKind
from app.web.core.htmx import htmx_target
from app.web.shared.party_money import invoices_part, ledger_part
from app.web.work.blueprint import bp


@bp.route("/earnings")
def earnings():
    me = current_user.id
    target = htmx_target()
    if target == "ledger-lines":
        return render_template("work/_earnings_ledger.html", **ledger_part(AccountKind.WORKER, me))
    if target == "invoice-list":
        return render_template("work/_earnings_invoices.html", **invoices_part(AccountKind.WORKER, me))
    return render_template(
        "work/earnings.html",
        money=statements.worker_money(me),
        credits=statements.worker_credits(me),
        **ledger_part(AccountKind.WORKER, me),
        **invoices_part(AccountKind.WORKER, me),
    )


@bp.route("/earnings/invoices/<int:invoice_id>")
def earnings_invoice(invoice_id: int):
    invoice = queries.own_invoice(invoice_id, AccountKind.WORKER, current_user.id)
    if invoice is None:
        abort(404)
    return render_template(
        "work/earnings_invoice.html",
        invoice=invoice,
        lines=queries.invoice_lines(invoice),
        settlements=queries.invoice_settlements(invoice),
    )
