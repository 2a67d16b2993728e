"""Form helpers every audience shares."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm


def apply_errors(form: FlaskForm, errors: dict[str, list[str]], aliases: Mapping[str, str | None] = {}) -> list[str]:
    """Put a service's per-field messages next to the form's fields; returns those without a field.

    `aliases` maps a service's error key to the form field that shows it (None: no field).
    """
    unplaced = []
    for key, messages in errors.items():
        name = aliases.get(key, key)
        field = getattr(form, name, None) if name else None
        if field is None:
            unplaced.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
    return unplaced
