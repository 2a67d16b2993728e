from flask_wtf.file import FileField
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.accounts.models import PAYMENT_METHODS
from app.accounts.phones import MAX_TYPED_LENGTH, parse_phone
from app.web.core.forms import CheckedForm, MoneyField


class ClientForm(CheckedForm):
    """What a manager types about a client; the phone is checked here too, so every message of a
    submit shows at once (the service checks it again for the API and the import)."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=500)])
    phone = TelField(
        "Phone",
        validators=[Optional()],
        description="Optional. The worker assigned to an order can call it, e.g. +44 20 7946 0958.",
        render_kw={"autocomplete": "tel", "maxlength": MAX_TYPED_LENGTH},
    )
    payment_method = SelectField(
        "Payment method",
        choices=[SelectChoice(value, label) for value, label in PAYMENT_METHODS.items()],
        default="card",
    )
    submit = SubmitField("Create client")

    def validate_phone(self, field) -> None:
        try:
            parse_phone(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class ClientEditForm(ClientForm):
    # The email is the login and the bulk import's key: not edited here.
    email = None
    submit = SubmitField("Save")


class WorkerForm(CheckedForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    age = IntegerField("Age", validators=[Optional(), NumberRange(min=0, max=40)])
    breed = StringField("Breed", validators=[Optional(), Length(max=80)])
    coat_colour = StringField("Coat colour", validators=[Optional(), Length(max=80)])
    strengths = StringField("Strengths", description="Comma separated, e.g. cleaning, cooking")
    weaknesses = StringField("Weaknesses", description="Comma separated")
    photo = FileField("Photo", description="JPEG, PNG or WebP, up to 8 MB (US-120)")
    submit = SubmitField("Create worker")


# ---------------------------------------------------------------- service types and orders (US-021, US-050)


class ServiceTypeForm(CheckedForm):
    """A service type; the price is typed in units with two decimals and stored as cents."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    base_price = MoneyField(
        "Base price (units)",
        default=100_00,
        validators=[InputRequired()],
        maximum_cents=1_000_000_00,
        description="Before the client's discount; 100 units for now (US-050).",
    )
    duration_minutes = IntegerField(
        "Duration (minutes)", default=120, validators=[InputRequired(), NumberRange(min=15, max=12 * 60)]
    )
    skills = StringField("Skills", description="Comma separated, e.g. cleaning, cooking: matching compares them")
    consumables = TextAreaField("Consumables", description="One per line: what the kit needs")
    submit = SubmitField("Save")

    def price_cents(self) -> int | None:
        return self.base_price.cents


class ReasonForm(CheckedForm):
    """Cancel or fail an order: the service insists on the reason; the first submit asks to confirm."""

    reason = TextAreaField("Reason", validators=[Length(max=1000)])
    confirmed = HiddenField()


class ReassignForm(CheckedForm):
    worker = SelectField("New worker", coerce=int, validate_choice=False)
    reason = TextAreaField("Reason", validators=[Length(max=1000)])
