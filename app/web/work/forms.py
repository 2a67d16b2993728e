"""Forms of the worker's pages: check-in and finishing with a photo taken by the phone camera (US-180)."""

from __future__ import annotations

from flask_wtf.file import FileField

from app.web.core.forms import CheckedForm

CAMERA = {"accept": "image/*", "capture": "environment"}


class CheckinForm(CheckedForm):
    photo = FileField("Photo on arrival", render_kw=CAMERA, description="Take a photo at the client's door.")


class ReportForm(CheckedForm):
    photo = FileField(
        "Photo of the signed report", render_kw=CAMERA, description="The paper report, signed by the client."
    )
