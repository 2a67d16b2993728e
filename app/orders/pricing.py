"""Prices and discounts: the one replaceable place for the pricing formula (US-050, US-040).

All amounts are integer cents. 1 unit = 100 cents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


# What a client has paid comes from billing, which registers its query here when imported:
# orders must not import billing, which itself listens to order events.
_paid_total_query: Callable[[int], int] | None = None


def paid_total_source(query: Callable[[int], int]) -> Callable[[int], int]:
    """Register the query that sums a client's payments (app.billing.statements does)."""
    global _paid_total_query
    _paid_total_query = query
    return query


def paid_total_cents(client_id: int) -> int:
    """What the client has paid so far (US-040), read at matching: an order priced after the payment
    that crosses a tier gets the new discount."""
    if _paid_total_query is None:
        raise RuntimeError("no paid-total query registered: the app factory imports app.billing.statements")
    return _paid_total_query(client_id)


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
