"""Errors that services raise for bad input, keyed by field so forms and the API can show them."""

from __future__ import annotations

import re


class ValidationError(Exception):
    def __init__(self, errors: dict[str, list[str]] | None = None, **field_messages: str):
        self.errors: dict[str, list[str]] = dict(errors or {})
        for field, message in field_messages.items():
            self.errors.setdefault(field, []).append(message)
        super().__init__("; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in self.errors.items()))


class DuplicateError(ValidationError):
    """The thing exists already (HTTP 409 in the API)."""


class FieldErrors:
    """Collects per-field messages while a service checks its arguments."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators. A single-line value
# (a name, an email, a subject) may hold none of them; a multi-line text may hold tab and newlines.
_SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_CHARACTERS_MESSAGE = "Control characters (such as line breaks or NUL) are not allowed here."
MULTI_LINE_CONTROL_MESSAGE = "Control characters (such as NUL) are not allowed here."


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """True when `value` holds a character no text input may carry (line breaks allowed if multiline)."""
    pattern = _MULTI_LINE_FORBIDDEN if multiline else _SINGLE_LINE_FORBIDDEN
    return bool(pattern.search(value))


def control_character_error(value, *, multiline: bool = False) -> str | None:
    """The shared text check: a message for a string with forbidden characters, else None."""
    if isinstance(value, str) and has_control_characters(value, multiline=multiline):
        return MULTI_LINE_CONTROL_MESSAGE if multiline else CONTROL_CHARACTERS_MESSAGE
    return None


def check_single_line(errors: FieldErrors, **values) -> None:
    """Add a field error for each single-line value (name=value) that holds control characters."""
    for field, value in values.items():
        message = control_character_error(value)
        if message:
            errors.add(field, message)


def single_line(value: str) -> str:
    """A value made safe for one line (a mail header): control characters become spaces."""
    return " ".join(_SINGLE_LINE_FORBIDDEN.sub(" ", value).split())
