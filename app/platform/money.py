"""Money as people read and type it. Amounts are integer cents everywhere; floats never come near.

`parse_amount` is the one parser for every amount a person types (credits, prices, bets): `12.5`,
`12,5` and `12.50` are the same amount; what could be read two ways (`1,234.5`, `12,500`) or is not
an amount is refused with a message that says how to write it.
"""

from __future__ import annotations

import re

# No amount is larger (ten trillion units): a bigint column holds it, and sums of many cannot overflow.
MAX_AMOUNT_CENTS = 10**15
AMOUNT = re.compile(r"^(?P<sign>[+-]?)(?P<units>\d+)(?:[.,](?P<cents>\d{1,2}))?$")
MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-"})


class AmountError(ValueError):
    """The text is not an amount; the message says why, for the person who typed it."""


def format_money(cents: int | None) -> str:
    """Integer cents as units with two decimals and thousands separators: 123456 -> '1,234.56'."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{units:,}.{rest:02d}"


def parse_amount(text: str | None, *, allow_negative: bool = False, maximum_cents: int | None = None) -> int:
    """The amount in `text` as integer cents, or AmountError with what to type instead."""
    cleaned = (text or "").strip().translate(MINUS_SIGNS).replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        raise AmountError("Enter an amount, e.g. 12.50.")
    if "." in cleaned and "," in cleaned:
        raise AmountError(
            f"{text.strip()} could be read two ways: write it without thousands separators, e.g. 1234.50."
        )
    separators = cleaned.count(".") + cleaned.count(",")
    if separators == 1 and re.search(r"[.,]\d{3,}$", cleaned):
        raise AmountError(
            f"{text.strip()} has more than two decimals: write whole units without a separator "
            "(e.g. 12500) and cents with two decimals (e.g. 12.50)."
        )
    match = AMOUNT.match(cleaned)
    if match is None:
        raise AmountError("Enter an amount in units with at most two decimals, e.g. 12.50 or 12,50.")
    if len(match["units"].lstrip("0")) > 13:
        raise AmountError(f"At most {format_money(maximum_cents or MAX_AMOUNT_CENTS)}.")
    cents = int(match["units"]) * 100 + int((match["cents"] or "0").ljust(2, "0"))
    if match["sign"] == "-":
        if not allow_negative:
            raise AmountError("Enter an amount of zero or more.")
        cents = -cents
    if maximum_cents is None or maximum_cents > MAX_AMOUNT_CENTS:
        maximum_cents = MAX_AMOUNT_CENTS
    if abs(cents) > maximum_cents:
        raise AmountError(f"At most {format_money(maximum_cents)}.")
    return cents
