"""The one parser for money typed by people: text in units -> integer cents.

`12.5`, `12,5` and `12.50` are one amount (1250 cents): a single `.` or `,` separates at most two
decimals. Anything that could be read two ways is refused rather than guessed: thousands
separators (`1,234.5`, `1.234,5`, `1,234`), spaces inside the number, three or more decimals.
"""

from __future__ import annotations

import re

MAX_DIGITS = 12  # whole units; far beyond any real amount, well inside a BIGINT of cents

_PLAIN = re.compile(r"^(?P<sign>[+-]?)(?P<units>[0-9]+)(?:[.,](?P<cents>[0-9]{1,2}))?$")


class MoneyError(ValueError):
    """Text that is not one clear amount; the message says what to type instead."""


def parse_amount(text: str | None) -> int:
    """Integer cents from text such as `12.5`, `12,5`, `12.50`, `-3`; MoneyError when unclear."""
    cleaned = (text or "").strip().replace("\u2212", "-")
    if not cleaned:
        raise MoneyError("Enter an amount, e.g. 12.50.")
    match = _PLAIN.match(cleaned)
    if match is None:
        digits = re.sub(r"[^0-9]", "", cleaned)
        separators = re.findall(r"[.,' \u00a0]", cleaned.lstrip("+-"))
        if digits and len(separators) > 1 or re.fullmatch(r"[+-]?[0-9]+[.,][0-9]{3}", cleaned):
            raise MoneyError(
                f"{cleaned!r} could be read two ways: write it without thousands separators, "
                "with at most two decimals, e.g. 1234.50."
            )
        if re.fullmatch(r"[+-]?[0-9]+[.,][0-9]{3,}", cleaned):
            raise MoneyError("At most two decimals (cents), e.g. 12.50.")
        raise MoneyError("Enter an amount in units, e.g. 12.50 or 12,5.")
    if len(match["units"]) > MAX_DIGITS:
        raise MoneyError("That amount is too large.")
    cents = int(match["units"]) * 100 + int((match["cents"] or "0").ljust(2, "0"))
    return -cents if match["sign"] == "-" else cents
