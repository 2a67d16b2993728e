"""Hiring mail (US-301): the notifications consumer's `hiring.*` handlers.

Applicants get every step with the signed link to their page (signed here, when the mail is
written, so no secret sits in an event); managers get each new confirmed application at
HIRING_ADDRESS. Keys derive from the event, so a replayed event never mails twice, and the
outbox keeps each person's mail in the order of the events.
"""

from __future__ import annotations

from flask import current_app

from app.events.models import Event
from app.extensions import db
from app.hiring import links
from app.hiring.models import Application
from app.notifications.consumers import notifications
from app.notifications.services import queue_email
from app.platform.urls import external_url


def page_link(application: Application) -> str:
    return external_url("careers.applicant", token=links.make_token(application, links.PAGE))


def _send(event: Event, template: str, application: Application, **extra) -> None:
    context = {
        "name": application.name,
        "vacancy": application.vacancy.title,
        "page_link": page_link(application),
        **extra,
    }
    queue_email(application.email, template, context, idempotency_key=f"event:{event.id}:{template}")


def _application(event: Event) -> Application | None:
    return db.session.get(Application, event.payload["application_id"])


@notifications.handles("hiring.application_submitted")
def mail_confirmation(event: Event) -> None:
    application = _application(event)
    if application is None or application.stage != "unconfirmed":
        return  # purged, or confirmed meanwhile
    _send(
        event,
        "hiring_confirm",
        application,
        confirm_link=external_url("careers.confirm", token=links.make_token(application, links.CONFIRM)),
        hours=current_app.config["HIRING_CONFIRM_HOURS"],
    )


@notifications.handles("hiring.application_confirmed")
def mail_received(event: Event) -> None:
    application = _application(event)
    if application is None:
        return
    _send(event, "hiring_received", application)
    queue_email(
        current_app.config["HIRING_ADDRESS"],
        "hiring_new_application",
        {
            "name": application.name,
            "email": application.email,
            "vacancy": application.vacancy.title,
            "link": external_url("managers.hiring_application", application_id=application.id),
        },
        idempotency_key=f"event:{event.id}:hiring_new_application",
    )


@notifications.handles("hiring.contacted")
def mail_contacted(event: Event) -> None:
    application = _application(event)
    if application is not None and event.payload.get("message"):
        _send(event, "hiring_contacted", application, message=event.payload["message"])


@notifications.handles("hiring.tests_assigned", "hiring.reminded")
def mail_tests(event: Event) -> None:
    application = _application(event)
    if application is not None:
        reminder = event.type == "hiring.reminded"
        _send(event, "hiring_tests_assigned", application, reminder=reminder, count=len(application.assignments))


@notifications.handles("hiring.tests_done")
def mail_tests_received(event: Event) -> None:
    application = _application(event)
    if application is not None:
        _send(event, "hiring_tests_received", application)


@notifications.handles("hiring.hired")
def mail_hired(event: Event) -> None:
    application = _application(event)
    if application is not None:
        _send(event, "hiring_hired", application)


@notifications.handles("hiring.rejected")
def mail_rejected(event: Event) -> None:
    application = _application(event)
    if application is not None:
        _send(event, "hiring_rejected", application, message=event.payload.get("message", ""))
