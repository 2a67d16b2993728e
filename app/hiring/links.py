"""Signed, expiring links for applicants (no account): confirm the email, and the applicant's page."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.extensions import db
from app.hiring.models import Application

CONFIRM = "confirm"
PAGE = "page"


class LinkInvalid(Exception):
    """Expired, tampered with, or for an application that is gone; the message is safe to show."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="mcf-hiring-links")


def max_age(purpose: str) -> int:
    config = current_app.config
    if purpose == CONFIRM:
        return config["HIRING_CONFIRM_HOURS"] * 3600
    return config["HIRING_LINK_DAYS"] * 86400


def make_token(application: Application, purpose: str) -> str:
    # The email is in the token: a link names one person's application, and no other.
    return _serializer().dumps({"a": application.id, "e": application.email, "p": purpose})


def application_for(token: str, purpose: str) -> Application:
    try:
        data = _serializer().loads(token, max_age=max_age(purpose))
    except SignatureExpired:
        raise LinkInvalid("This link has expired.") from None
    except BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if not isinstance(data, dict) or data.get("p") != purpose:
        raise LinkInvalid("This link is not valid.")
    application = db.session.get(Application, data.get("a"))
    if application is None or application.email != data.get("e"):
        raise LinkInvalid("This application no longer exists. You are welcome to apply again.")
    return application
