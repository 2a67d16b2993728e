from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.accounts.models import PAYMENT_METHODS


class ClientForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=500)])
    payment_method = SelectField("Payment method", choices=list(PAYMENT_METHODS.items()), default="card")
    submit = SubmitField("Create client")


class WorkerForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    age = IntegerField("Age", validators=[Optional(), NumberRange(min=0, max=40)])
    breed = StringField("Breed", validators=[Optional(), Length(max=80)])
    coat_colour = StringField("Coat colour", validators=[Optional(), Length(max=80)])
    strengths = StringField("Strengths", description="Comma separated, e.g. cleaning, cooking")
    weaknesses = StringField("Weaknesses", description="Comma separated")
    submit = SubmitField("Create worker")


def apply_service_errors(form: FlaskForm, errors: dict[str, list[str]]) -> None:
    """Show a service's per-field messages next to the form's fields."""
    for field_name, messages in errors.items():
        field = getattr(form, field_name, None)
        target = field if field is not None else form.form_errors
        (target.errors if field is not None else target).extend(messages)
