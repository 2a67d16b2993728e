"""The tote's forms. Amounts are plain text: the service parses them with the one money parser."""

from __future__ import annotations

from wtforms import HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice

from app.web.core.forms import CheckedForm

OUTCOME_CHOICES = [
    SelectChoice("completed", "Completed"),
    SelectChoice("cancelled", "Cancelled"),
    SelectChoice("failed", "Failed"),
]


class BetForm(CheckedForm):
    outcome = RadioField("How will the order end?", choices=OUTCOME_CHOICES, validate_choice=False)
    amount = StringField(
        "Amount (units)",
        description="e.g. 5, 12.5 or 12,50",
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "5.00"},
    )


class TransferForm(CheckedForm):
    payer = HiddenField()
    payee = HiddenField()
    amount_cents = HiddenField()
    token = HiddenField()  # one per form shown: a double submit records once
