"""Form helpers every audience shares."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from app.platform.money import AmountError, format_money, parse_amount
from app.platform.validation import control_character_error


class CheckedForm(FlaskForm):
    """The base of every form: no text field accepts control characters.

    A one-line field (names, emails, anything that may end up in a mail header) refuses every
    control character, line breaks included; a text area accepts tab and line breaks only.
    """

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, StringField) and isinstance(field.data, str):
                message = control_character_error(field.data, multiline=isinstance(field, TextAreaField))
                if message:
                    field.errors = [*field.errors, message]
                    valid = False
        return valid


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


class MoneyField(StringField):
    """An amount typed in units, read by the one money parser; `.cents` is the amount understood.

    The field keeps what the person typed (so it is shown back as typed on an error); a refused
    amount is a field error with the parser's message.
    """

    def __init__(self, label=None, validators=None, *, allow_negative: bool = False, maximum_cents=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.allow_negative = allow_negative
        self.maximum_cents = maximum_cents
        self.cents: int | None = None

    def process_data(self, value):
        if isinstance(value, int):  # a stored amount in cents, shown for editing
            self.cents = value
            value = format_money(value).replace(",", "")
        super().process_data(value)

    def pre_validate(self, form) -> None:
        if not (self.data or "").strip():
            self.cents = None
            return  # DataRequired/InputRequired say what is missing; Optional lets it be
        try:
            self.cents = parse_amount(self.data, allow_negative=self.allow_negative, maximum_cents=self.maximum_cents)
        except AmountError as error:
            self.cents = None
            raise ValidationError(str(error)) from error
