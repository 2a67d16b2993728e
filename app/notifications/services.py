"""Putting mail into the outbox. Services call `queue_email`; the sender does the rest."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.notifications.models import EmailStatus, OutboxEmail, RecipientSequence
from app.platform.unit_of_work import after_commit
from app.platform.validation import single_line

SEND_JOB = "app.notifications.jobs.send_for_recipient"


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/email/<template>.txt and .html.

    The text template defines `subject` and `body` blocks; the HTML one extends email/base.html.
    """
    env = current_app.jinja_env
    context = {"base_url": current_app.config["PUBLIC_BASE_URL"].rstrip("/"), **context}
    text_template = env.get_template(f"email/{template}.txt")
    text_context = text_template.new_context(context)
    # Names typed by people end up here: the subject is always one line, whatever they hold.
    subject = single_line("".join(text_template.blocks["subject"](text_context)))
    body_text = "".join(text_template.blocks["body"](text_template.new_context(context))).strip() + "\n"
    body_html = env.get_template(f"email/{template}.html").render(subject=subject, **context)
    return subject, body_text, body_html


def next_sequence(recipient: str) -> int:
    stmt = (
        insert(RecipientSequence)
        .values(recipient=recipient, last_sequence=1)
        .on_conflict_do_update(
            index_elements=[RecipientSequence.recipient],
            set_={"last_sequence": RecipientSequence.last_sequence + 1},
        )
        .returning(RecipientSequence.last_sequence)
    )
    return db.session.execute(stmt).scalar_one()


def queue_email(recipient: str, template: str, context: dict, idempotency_key: str) -> OutboxEmail:
    """Add a message to the outbox (once per key) and send it after the commit."""
    existing = db.session.scalar(select(OutboxEmail).where(OutboxEmail.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    recipient = recipient.strip().lower()
    subject, body_text, body_html = render_email(template, context)
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].rstrip(">") or "mcf.example"
    email = OutboxEmail(
        idempotency_key=idempotency_key,
        recipient=recipient,
        sequence=next_sequence(recipient),
        template=template,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        message_id=f"<{uuid.uuid4().hex}@{domain}>",
        status=EmailStatus.PENDING,
    )
    db.session.add(email)
    db.session.flush()
    after_commit(lambda: enqueue_send(recipient))
    return email


def enqueue_send(recipient: str, at=None) -> None:
    from app.platform.queues import enqueue

    enqueue("emails", SEND_JOB, recipient, at=at)


def retry_email(email: OutboxEmail) -> None:
    """A manager's retry: a dead or waiting message goes back to the head of its recipient's line."""
    from app.platform.clock import utcnow

    if email.status == EmailStatus.SENT:
        raise ValueError("This message was already sent.")
    email.status = EmailStatus.PENDING
    email.attempts = 0
    email.next_attempt_at = utcnow()
    db.session.flush()
    recipient = email.recipient
    after_commit(lambda: enqueue_send(recipient))
