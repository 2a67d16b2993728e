"""Prices and discounts: the one replaceable place for the pricing formula (US-050, US-040).

All amounts are integer cents. 1 unit = 100 cents.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.billing.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, TransactionKind
from app.extensions import db
from app.orders.models import ServiceType

CENTS_PER_UNIT = 100
TIER_STEP_CENTS = 10_000 * CENTS_PER_UNIT  # a new tier every 10,000 units paid
MAX_DISCOUNT_PERCENT = 12


def discount_percent(paid_total_cents: int) -> int:
    """US-040: above 10,000 units paid 5%, above 20,000 6%, one more per 10,000, at most 12%.

    "Above" is strict: exactly 10,000.00 units paid gives no discount yet.
    """
    if paid_total_cents <= TIER_STEP_CENTS:
        return 0
    tiers_passed = (paid_total_cents - 1) // TIER_STEP_CENTS  # 1 for (10,000, 20,000], 2 for (20,000, 30,000]...
    return min(MAX_DISCOUNT_PERCENT, 4 + tiers_passed)


def next_tier(paid_total_cents: int) -> tuple[int, int] | None:
    """(the next discount percent, cents still to pay to reach it), or None at the top tier."""
    current = discount_percent(paid_total_cents)
    if current >= MAX_DISCOUNT_PERCENT:
        return None
    threshold = TIER_STEP_CENTS * (1 if current == 0 else current - 3)
    return discount_percent(threshold + 1), threshold + 1 - paid_total_cents


def apply_discount(base_cents: int, percent: int) -> int:
    """The discounted price, rounded half up to the cent."""
    return (base_cents * (100 - percent) + 50) // 100


def base_price_cents(service_type: ServiceType) -> int:
    """US-050: the secret formula is not known yet; the service type's base price stands in."""
    return service_type.base_price_cents


def paid_total_cents(client_id: int) -> int:
    """What the client has paid so far (US-040): the sum of their payments in the ledger.

    A payment is posted only when an invoice is paid (client account credited, cash debited), so
    unpaid or failed invoices count for nothing. Read at matching, so an order priced after the
    payment that crosses a tier gets the new discount.
    """
    credited = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind == AccountKind.CLIENT,
            LedgerAccount.user_id == client_id,
            LedgerTransaction.kind == TransactionKind.PAYMENT,
        )
    )
    return -int(credited)


@dataclass(frozen=True)
class Quote:
    base_cents: int
    discount_percent: int
    price_cents: int


def quote(client_id: int, service_type: ServiceType) -> Quote:
    """The price this client would pay for this service now."""
    base = base_price_cents(service_type)
    percent = discount_percent(paid_total_cents(client_id))
    return Quote(base, percent, apply_discount(base, percent))
