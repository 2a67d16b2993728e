"""Forms of the quality pages (US-190, US-200, US-210)."""

from __future__ import annotations

from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.quality.models import CALL_OUTCOMES, CALL_PARTIES, CRITERIA, Fault, HypothesisStatus
from app.web.core.forms import CheckedForm

SCORES = [SelectChoice(value, str(value)) for value in range(1, 6)]
FAULTS = [SelectChoice(fault.value, fault.value.capitalize()) for fault in Fault]
NEW_CAUSE = "__new__"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _score_field(label: str) -> RadioField:
    # Validated by the service (a message per criterion), so a missing score is not a form error here.
    return RadioField(label, choices=SCORES, coerce=int, validate_choice=False, validators=[Optional()])


class ReviewForm(CheckedForm):
    """The review (US-210). The token makes a double submit store one review."""

    token = HiddenField()
    punctuality = _score_field(CRITERIA[0][1])
    work_quality = _score_field(CRITERIA[1][1])
    communication = _score_field(CRITERIA[2][1])
    kit = _score_field(CRITERIA[3][1])
    satisfaction = _score_field(CRITERIA[4][1])
    fault = SelectField("Whose fault was it?", choices=[SelectChoice("", "Choose"), *FAULTS], validate_choice=False)
    root_cause = SelectField("Root cause", validate_choice=False)
    new_root_cause = StringField("Or a new root cause", description="Adds it to the list for everyone.")
    findings = TextAreaField("Findings (internal)", description="Never sent to the client or the worker.")
    client_message = TextAreaField("Message for the client", description="Mailed to the client as written.")
    worker_message = TextAreaField("Message for the worker", description="Mailed to the worker as written.")
    hypotheses = MultiCheckboxField("Supports these hypotheses", coerce=int, validate_choice=False)
    new_if_we = StringField("If we ...")
    new_then = StringField("then ...")
    new_because = StringField("because ...")


class AmendForm(ReviewForm):
    note = TextAreaField("Why the change", description="Kept with the previous version.")


class CallForm(CheckedForm):
    party = SelectField(
        "Whom", choices=[SelectChoice(party, party.capitalize()) for party in CALL_PARTIES], validate_choice=False
    )
    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice(outcome, outcome.replace("_", " ").capitalize()) for outcome in CALL_OUTCOMES],
        validate_choice=False,
    )
    notes = TextAreaField("Notes")


class AuditForm(CheckedForm):
    """US-190: a random completed order, optionally within a period, a service type, a worker."""

    date_from = DateField("Ended from", validators=[Optional()])
    date_to = DateField("to", validators=[Optional()])
    service_type = SelectField("Service type", coerce=int, validate_choice=False, validators=[Optional()])
    worker = SelectField("Worker", coerce=int, validate_choice=False, validators=[Optional()])


class HypothesisForm(CheckedForm):
    if_we = StringField("If we ...")
    then = StringField("then ...")
    because = StringField("because ...")


class StatusForm(CheckedForm):
    status = SelectField(
        "Status",
        choices=[SelectChoice(status.value, status.value.capitalize()) for status in HypothesisStatus],
        validate_choice=False,
    )
    note = TextAreaField("Note", validators=[Optional()])


class NoteForm(CheckedForm):
    text = TextAreaField("Note")


class OwnerForm(CheckedForm):
    owner = SelectField("Owner", coerce=int, validate_choice=False)
