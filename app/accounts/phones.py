"""Phone numbers of clients, for the worker's `tel:` link (issue 12, point 9).

A number is kept twice: as the manager typed it (trimmed, inner runs of spaces made one), which is
what people read, and normalised to an optional leading `+` and digits, which is what a phone
dials from a `tel:` link. Only what a person writes in a phone number is accepted: digits, spaces,
`+` (first only), `-`, `(` and `)`; between 6 digits (a short local number) and 15 (ITU E.164's
longest international number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TYPED_LENGTH = 30
MIN_DIGITS = 6
MAX_DIGITS = 15

_ALLOWED = re.compile(r"[0-9 +\-()]*")
_SEPARATORS = re.compile(r"[ \-()]")


@dataclass(frozen=True)
class Phone:
    typed: str  # shown to people
    tel: str  # the href part of a `tel:` link: optional + and digits


NO_PHONE = Phone("", "")


def parse_phone(value: str) -> Phone:
    """The phone number in `value` ("" is no phone); ValueError with a message for people otherwise."""
    typed = " ".join(value.split())
    if not typed:
        return NO_PHONE
    if len(typed) > MAX_TYPED_LENGTH:
        raise ValueError(f"At most {MAX_TYPED_LENGTH} characters.")
    if not _ALLOWED.fullmatch(typed):
        raise ValueError("Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958.")
    if "+" in typed[1:]:
        raise ValueError("A + may only come first, e.g. +44 20 7946 0958.")
    if typed.count("(") != typed.count(")"):
        raise ValueError("Brackets must come in pairs, e.g. (020) 7946 0958.")
    tel = _SEPARATORS.sub("", typed)
    digits = len(tel.lstrip("+"))
    if digits < MIN_DIGITS:
        raise ValueError(f"Too short: a phone number has at least {MIN_DIGITS} digits.")
    if digits > MAX_DIGITS:
        raise ValueError(f"Too long: a phone number has at most {MAX_DIGITS} digits.")
    return Phone(typed, tel)
