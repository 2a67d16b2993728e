"""The RQ job that sends a recipient's mail, strictly in sequence order.

Workers serialise on a per-recipient advisory lock held in the sending transaction, so two
workers never send the same recipient's mail at once. The head of the line is the lowest
pending sequence: while it waits for a retry, nothing later goes out. A message that exhausts
its attempts, or fails in a way no retry can fix (a malformed message, a permanent 5xx refusal),
is dead-lettered and the line moves on. If a worker dies mid-send, its transaction
rolls back and the message is still pending: delivery is at-least-once, and the Message-ID is
stable so a duplicate can be recognised.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from flask import current_app
from flask_mail import BadHeaderError, Message
from sqlalchemy import select, text

from app.events.jobs import backoff
from app.extensions import db, mail
from app.notifications.models import EmailStatus, OutboxEmail
from app.notifications.services import SEND_JOB, enqueue_send
from app.platform.clock import utcnow
from app.platform.jobs import job
from app.platform.sweep import sweeper
from app.platform.validation import single_line

log = logging.getLogger(__name__)


@contextmanager
def socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class UndeliverableError(Exception):
    """This message can never be sent as it is (as opposed to the mail server being away)."""


def is_permanent(exc: Exception) -> bool:
    """A failure that no retry can fix: a malformed message, or the server's permanent 5xx refusal.

    Connection errors, timeouts and 4xx answers are transient: the message is retried with backoff.
    """
    if isinstance(exc, (UndeliverableError, BadHeaderError, ValueError, TypeError, UnicodeError, LookupError)):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):  # data/sender refused and the like
        return 500 <= exc.smtp_code < 600
    return False


def build_message(email: OutboxEmail) -> Message:
    """The message with headers no stored field can break: the subject is made one clean line;
    a recipient that is not one plain address is undeliverable."""
    if email.recipient != single_line(email.recipient) or "," in email.recipient or "@" not in email.recipient:
        raise UndeliverableError(f"the recipient {email.recipient!r} is not one plain address")
    message = Message(
        subject=single_line(email.subject),
        recipients=[email.recipient],
        body=email.body_text,
        html=email.body_html,
        extra_headers={"X-MCF-Sequence": str(email.sequence), "X-MCF-Outbox-Id": str(email.id)},
    )
    message.msgId = email.message_id
    return message


class SmtpSession:
    """One SMTP connection for all the messages of a job, opened at the first message. After any
    failure it is dropped (the next message opens a fresh one), so a broken connection costs one
    message a retry, as a failed send always did."""

    def __init__(self):
        self.connection = None

    def send(self, message: Message) -> None:
        try:
            if self.connection is None:
                self.connection = mail.connect()
                self.connection.__enter__()
            self.connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and connection.host is not None:
            try:
                connection.host.quit()
            except (smtplib.SMTPException, OSError):  # already gone: nothing to close politely
                connection.host.close()


_smtp_session: ContextVar[SmtpSession | None] = ContextVar("mcf_smtp_session", default=None)


@contextmanager
def one_smtp_connection():
    session = SmtpSession()
    token = _smtp_session.set(session)
    try:
        yield session
    finally:
        _smtp_session.reset(token)
        with socket_timeout(current_app.config["MAIL_TIMEOUT_SECONDS"]):
            session.close()


def deliver_over_smtp(email: OutboxEmail) -> None:
    message = build_message(email)
    session = _smtp_session.get()
    with socket_timeout(current_app.config["MAIL_TIMEOUT_SECONDS"]):
        if session is not None:
            session.send(message)
        else:
            mail.send(message)


@job
def send_for_recipient(recipient: str) -> int:
    """Send the recipient's due mail in order; returns how many went out."""
    with one_smtp_connection():
        return _send_line(recipient)


@job
def send_for_recipients(recipients: list[str]) -> int:
    """`send_for_recipient` for many people in one job (one connection): what a bulk of mail (a
    billing run's) enqueues. Each person's line is still sent strictly in order under that
    person's lock, so two jobs naming one person never interleave their mail."""
    with one_smtp_connection():
        return sum(_send_line(recipient) for recipient in recipients)


def _send_line(recipient: str) -> int:
    session = db.session
    config = current_app.config
    sent = 0
    while True:
        # Marking a message sent need not wait for the disk: if the database lost that commit in a
        # crash, the message would be sent again, which at-least-once delivery (with its stable
        # Message-ID) allows already. The per-recipient order is unaffected (the lock is released
        # only at commit, and a lost commit loses the later ones too).
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('outbox'), hashtext(:recipient))"),
            {"recipient": recipient},
        )
        head = session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.recipient == recipient, OutboxEmail.status == EmailStatus.PENDING)
            .order_by(OutboxEmail.sequence)
            .limit(1)
        ).first()
        if head is None:
            session.commit()
            return sent
        if head.next_attempt_at > utcnow():
            retry_at = head.next_attempt_at
            session.commit()
            enqueue_send(recipient, at=retry_at)
            return sent
        head.attempts += 1
        try:
            deliver_over_smtp(head)
        except Exception as exc:
            head.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if is_permanent(exc) or head.attempts >= config["EMAIL_MAX_ATTEMPTS"]:
                head.status = EmailStatus.DEAD
                log.error("email %s to %s dead-lettered: %s", head.id, recipient, head.last_error)
                session.commit()
                continue
            head.next_attempt_at = utcnow() + backoff(
                head.attempts, config["EMAIL_RETRY_BASE_SECONDS"], config["EMAIL_RETRY_MAX_SECONDS"]
            )
            retry_at = head.next_attempt_at
            log.warning("email %s to %s failed (attempt %s): %s", head.id, recipient, head.attempts, exc)
            session.commit()
            enqueue_send(recipient, at=retry_at)
            return sent
        head.status = EmailStatus.SENT
        head.sent_at = utcnow()
        head.last_error = ""
        session.commit()
        sent += 1


@sweeper("recipients")
def recipients_due(older_than: timedelta) -> list[tuple[str, str, tuple[str]]]:
    """A send job for every recipient whose next pending message is due."""
    cutoff = utcnow() - older_than
    return [
        ("emails", SEND_JOB, (recipient,))
        for recipient in db.session.scalars(
            select(OutboxEmail.recipient)
            .where(
                OutboxEmail.status == EmailStatus.PENDING,
                OutboxEmail.next_attempt_at <= utcnow(),
                OutboxEmail.created_at <= cutoff,
            )
            .distinct()
        )
    ]
