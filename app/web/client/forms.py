"""Forms of the client's pages: requesting help (US-020), cancelling, booking a no-show again (US-132).

The forms only parse what the browser sends; the rules (slot in the future and within working
hours, orderable service, non-empty description) live in app.orders.services, whose per-field
messages `apply_errors(form, errors, ERROR_FIELDS)` puts next to the fields.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from markupsafe import Markup
from wtforms import DateField, HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional
from wtforms.widgets import html_params

from app.orders import availability, slots
from app.orders.models import ServiceType
from app.web.core.forms import CheckedForm

# Service error keys that have no field of that name: where their messages are shown.
ERROR_FIELDS = {"slot": "start", "status": None}


class BookableDaySelect:
    """Renders the date as a choice among the days that can be booked (no Sundays, nothing past the
    horizon); what was submitted stays selected even if it is not one of them, so it can be corrected."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        current = field._value()
        days = list(getattr(field, "bookable", []))
        values = [day.isoformat() for day in days]
        options = [Markup('<option value="">Choose a date</option>')]
        if current and current not in values:
            options.append(Markup('<option selected value="{0}">{0}</option>').format(current))
        for day, value in zip(days, values, strict=True):
            selected = " selected" if value == current else ""
            options.append(Markup('<option{0} value="{1}">{2}</option>').format(selected, value, f"{day:%a %d %b}"))
        return Markup("<select {0}>{1}</select>").format(
            html_params(name=field.name, **kwargs), Markup("").join(options)
        )


class SlotForm(CheckedForm):
    """A date (company time zone) among the bookable days, and a start time on the working-hours grid
    (on a chosen day, only the times at which a worker who could do the service is free)."""

    day = DateField("Date", validators=[Optional()], widget=BookableDaySelect())
    # The choices depend on the service's duration; values outside them are judged by the service.
    start = SelectField("Start time", choices=[], validate_choice=False)

    def set_time_choices(self, service: ServiceType | None) -> None:
        hours = slots.working_hours()
        duration_minutes = service.duration_minutes if service else None
        if service is not None and self.day.data is not None:
            times = availability.bookable_times(service, self.day.data)
        else:
            times = slots.slot_times(hours, duration_minutes) if duration_minutes else []
        choices = [SelectChoice("", "Choose a time")]
        for start in times:
            end = (datetime.combine(date(2000, 1, 3), start) + timedelta(minutes=duration_minutes)).time()
            choices.append(SelectChoice(f"{start:%H:%M}", f"{start:%H:%M} (until {end:%H:%M})"))
        self.start.choices = choices

    def set_day_choices(self) -> None:
        self.day.bookable = availability.bookable_days()

    def start_time(self) -> time | None:
        try:
            return time.fromisoformat(self.start.data) if self.start.data else None
        except ValueError:
            self.start.errors = [*self.start.errors, "Choose a start time from the list."]
            return None

    def slot_start(self) -> datetime | None:
        """The chosen slot as an aware datetime, or None when the date or the time is missing."""
        start = self.start_time()
        if self.day.data is None or start is None:
            return None
        return slots.local_slot(self.day.data, start)


def _optional_id(value) -> int | None:
    """A submitted id, or None for nothing or garbage (the service then says "Choose a service.")."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class OrderRequestForm(SlotForm):
    description = TextAreaField(
        "What do you need help with?", validators=[Length(max=2000)], render_kw={"rows": 4, "maxlength": 2000}
    )
    service_type = SelectField("Service", coerce=_optional_id, choices=[], validate_choice=False)
    address = TextAreaField(
        "Address", validators=[Length(max=500)], render_kw={"rows": 2}, description="Where should the worker come?"
    )
    submit = SubmitField("Send my request")
    # The idempotency key of this rendering of the form: sending it twice makes one order.
    request_token = HiddenField()

    def set_service_choices(self, service_types: list[ServiceType]) -> None:
        self.service_type.choices = [SelectChoice(str(service.id), service.name) for service in service_types]

    def chosen_service(self, service_types: list[ServiceType]) -> ServiceType | None:
        """The service the form shows as chosen: the submitted one, else the first orderable one."""
        chosen = self.service_type.data
        for service in service_types:
            if service.id == chosen:
                return service
        return service_types[0] if service_types and not chosen and not self.is_submitted() else None


class CancelForm(CheckedForm):
    reason = TextAreaField(
        "Why do you cancel?", validators=[Length(max=1000)], render_kw={"rows": 2, "maxlength": 1000}
    )
    # Set by the confirmation step: the first submit only shows what cancelling will cost.
    confirmed = HiddenField()
    submit = SubmitField("Cancel this order")


class RebookForm(SlotForm):
    submit = SubmitField("Book again")
