"""Errors that services raise for bad input, keyed by field so forms and the API can show them."""

from __future__ import annotations


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
