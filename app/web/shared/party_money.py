"""The paginated parts of a client's or worker's own money page (ledger lines, invoices)."""

from __future__ import annotations

from app.billing import queries
from app.billing.models import AccountKind
from app.web.core.pagination import page_args, page_number

LINES_PER_PAGE = 25
INVOICES_PER_PAGE = 12


def ledger_part(kind: AccountKind, user_id: int) -> dict:
    """One page of the party's ledger lines, signed from the party's side."""
    page, per_page = page_args(LINES_PER_PAGE)
    account_id = queries.party_account_id(kind, user_id)
    lines, has_next = queries.ledger_lines(account_id, page, per_page, sign=queries.natural_sign(kind))
    return {"lines": lines, "page": page, "has_next": has_next}


def invoices_part(kind: AccountKind, user_id: int) -> dict:
    page = page_number("invoices_page")
    rows, has_next = queries.party_invoices(kind, user_id, page, INVOICES_PER_PAGE)
    return {"invoices": rows, "invoices_page": page, "invoices_has_next": has_next}
