from flask_wtf.file import FileField
from wtforms import EmailField, HiddenField, IntegerField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.web.core.forms import CheckedForm


class ApplicationForm(CheckedForm):
    """The application (US-090). `website` is the honeypot: hidden from people, filled by robots."""

    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    phone = TelField("Phone", validators=[DataRequired(), Length(max=40)])
    age = IntegerField("Age (years)", validators=[DataRequired(), NumberRange(min=0, max=40)])
    breed = StringField("Breed", validators=[DataRequired(), Length(max=80)])
    coat_colour = StringField("Coat colour", validators=[DataRequired(), Length(max=80)])
    about = TextAreaField(
        "About you",
        validators=[Optional(), Length(max=2000)],
        description="A few lines: what you are good at, when you can work.",
    )
    photo = FileField("A photo of you", description="JPEG, PNG or WebP, up to 8 MB.")
    website = StringField("Leave this empty", validators=[Optional()])
    form_token = HiddenField()
