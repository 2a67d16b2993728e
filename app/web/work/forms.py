"""Forms of the worker's pages: check-in and finishing with a photo taken by the phone camera (US-180)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField

CAMERA = {"accept": "image/*", "capture": "environment"}


class CheckinForm(FlaskForm):
    photo = FileField("Photo on arrival", render_kw=CAMERA, description="Take a photo at the client's door.")


class ReportForm(FlaskForm):
    photo = FileField(
        "Photo of the signed report", render_kw=CAMERA, description="The paper report, signed by the client."
    )
