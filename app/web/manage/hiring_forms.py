"""Forms of the managers' hiring pages."""

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.hiring.models import QuestionKind
from app.hiring.services import CONTACT_CHANNELS
from app.web.core.forms import CheckedForm


class VacancyForm(CheckedForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=160)])
    slug = StringField(
        "Address",
        validators=[Optional(), Length(max=80)],
        description="The end of /careers/...: lower-case letters, digits and dashes (from the title if empty).",
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    is_open = BooleanField("Open (shown on the careers page)")


class TestForm(CheckedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    trait = StringField(
        "Trait measured",
        validators=[DataRequired(), Length(max=60)],
        description="A strength or weakness word, as in workers' profiles and service skills (e.g. cleaning).",
    )
    time_limit_minutes = IntegerField(
        "Time limit (minutes)", default=10, validators=[InputRequired(), NumberRange(1, 180)]
    )
    pass_mark_percent = IntegerField(
        "Pass mark (%)",
        default=70,
        validators=[InputRequired(), NumberRange(0, 100)],
        description="Decides while the test has too few attempts for a percentile.",
    )


class QuestionForm(CheckedForm):
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(QuestionKind.SINGLE.value, "Single choice"),
            SelectChoice(QuestionKind.MULTIPLE.value, "Multiple choice"),
            SelectChoice(QuestionKind.NUMBER.value, "A number"),
        ],
    )
    text = TextAreaField("Question", validators=[DataRequired(), Length(max=2000)])
    choices = TextAreaField("Choices", validators=[Optional()], description="One per line (not for a number).")
    correct = StringField(
        "Correct answer",
        validators=[DataRequired(), Length(max=200)],
        description="Choice numbers (2, or 1, 3), or the number and a tolerance (42 0.5).",
    )
    points = IntegerField("Points", default=1, validators=[InputRequired(), NumberRange(1, 100)])


class ContactForm(CheckedForm):
    form_key = HiddenField()  # one per rendered form: a double submit logs the contact once
    contacted_at = DateTimeLocalField(
        "When", format="%Y-%m-%dT%H:%M", validators=[Optional()], description="Empty: now."
    )
    channel = SelectField("How", choices=[SelectChoice(value, label) for value, label in CONTACT_CHANNELS.items()])
    outcome = StringField("Outcome", validators=[DataRequired(), Length(max=120)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)])
    message = TextAreaField(
        "Message to the applicant",
        validators=[Optional(), Length(max=2000)],
        description="Optional: mailed to them if written.",
    )


class RejectForm(CheckedForm):
    reason = TextAreaField("Reason (managers only)", validators=[DataRequired(), Length(max=2000)])
    message = TextAreaField(
        "Message to the applicant",
        validators=[Optional(), Length(max=2000)],
        description="Optional: the applicant sees only this.",
    )


class ActionForm(CheckedForm):
    """A button: only the CSRF token."""
