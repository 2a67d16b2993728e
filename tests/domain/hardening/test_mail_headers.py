"""US-300: no field can break a mail header; a message that can never be sent does not hold the line."""

from __future__ import annotations

import smtplib
import uuid

import pytest
from sqlalchemy import select

from app.extensions import mail
from app.notifications import jobs
from app.notifications.models import EmailStatus, OutboxEmail
from app.notifications.services import next_sequence, render_email


def outbox(db, recipient: str, subject: str) -> OutboxEmail:
    email = OutboxEmail(
        idempotency_key=uuid.uuid4().hex,
        recipient=recipient,
        sequence=next_sequence(recipient),
        template="test",
        subject=subject,
        body_text="Hello\n",
        body_html="<p>Hello</p>",
        message_id=f"<{uuid.uuid4().hex}@mcf.example>",
        status=EmailStatus.PENDING,
    )
    db.session.add(email)
    db.session.flush()
    return email


def statuses(db, recipient):
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == recipient).order_by("sequence"))
    return [(row.status, row.attempts) for row in rows]


def test_us300_a_line_break_stored_in_a_subject_cannot_break_the_headers(app, db):
    outbox(db, "supply@example.com", "New order: Bad\r\nBcc: victim@example.com name")
    with mail.record_messages() as sent:
        assert jobs.send_for_recipient("supply@example.com") == 1
    assert [message.subject for message in sent] == ["New order: Bad Bcc: victim@example.com name"]
    assert sent[0].bcc == [] and sent[0].recipients == ["supply@example.com"]
    assert "victim" not in " ".join(sent[0].send_to)


def test_us300_subjects_are_rendered_on_one_line(app, db, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    templates = {
        "email/probe.txt": "{% block subject %}{{ worker_name }} confirmed order #{{ order_id }}{% endblock %}"
        "{% block body %}Hi{% endblock %}",
        "email/probe.html": "<p>Hi</p>",
    }
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([DictLoader(templates), app.jinja_env.loader]))
    with app.test_request_context():
        subject, _, _ = render_email("probe", {"worker_name": "Evil\r\nBcc: x@example.com", "order_id": 7})
    assert subject == "Evil Bcc: x@example.com confirmed order #7"


@pytest.mark.parametrize(
    "permanent",
    [
        smtplib.SMTPDataError(554, b"5.6.0 message refused"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}),
        ValueError("header value contains a line break"),
    ],
)
def test_us300_an_unsendable_message_is_dead_at_once_and_the_line_moves_on(app, db, monkeypatch, permanent):
    recipient = "queue@example.com"
    broken = outbox(db, recipient, "broken")
    outbox(db, recipient, "later one")
    outbox(db, recipient, "later two")
    real = jobs.deliver_over_smtp

    def deliver(email):
        if email.id == broken.id:
            raise permanent
        real(email)

    monkeypatch.setattr(jobs, "deliver_over_smtp", deliver)
    with mail.record_messages() as sent:
        assert jobs.send_for_recipient(recipient) == 2
    assert [message.subject for message in sent] == ["later one", "later two"]
    assert statuses(db, recipient) == [(EmailStatus.DEAD, 1), (EmailStatus.SENT, 1), (EmailStatus.SENT, 1)]


@pytest.mark.parametrize(
    "transient",
    [
        smtplib.SMTPServerDisconnected("gone"),
        ConnectionRefusedError(111, "refused"),
        smtplib.SMTPDataError(451, b"later"),
    ],
)
def test_us300_smtp_being_away_is_retried_and_holds_the_order(app, db, monkeypatch, transient):
    recipient = "wait@example.com"
    outbox(db, recipient, "first")
    outbox(db, recipient, "second")
    monkeypatch.setattr(jobs, "deliver_over_smtp", lambda email: (_ for _ in ()).throw(transient))
    monkeypatch.setattr(jobs, "enqueue_send", lambda recipient, at=None: None)
    assert jobs.send_for_recipient(recipient) == 0
    assert statuses(db, recipient) == [(EmailStatus.PENDING, 1), (EmailStatus.PENDING, 0)]


def test_us300_a_recipient_that_is_not_one_address_is_dead_at_once(app, db):
    outbox(db, "a@example.com\nbcc@example.com", "x")
    with mail.record_messages() as sent:
        jobs.send_for_recipient("a@example.com\nbcc@example.com")
    assert sent == []
    assert statuses(db, "a@example.com\nbcc@example.com") == [(EmailStatus.DEAD, 1)]
