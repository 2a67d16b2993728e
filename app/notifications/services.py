"""Putting mail into the outbox. Services call `queue_email`; the sender does the rest."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.notifications.models import EmailStatus, OutboxEmail, RecipientSequence
from app.platform.clock import utcnow
from app.platform.unit_of_work import after_commit
from app.platform.validation import single_line

SEND_JOB = "app.notifications.jobs.send_for_recipient"
SEND_MANY_JOB = "app.notifications.jobs.send_for_recipients"
_RECIPIENTS_PER_JOB = 25
_MESSAGES_PER_CALL = 2000

# The bulk statements take one array per column (unnest): a short statement whatever the number of
# messages. A multi-row VALUES list made the driver rewrite a statement of thousands of
# placeholders on every call, the costliest part of queueing a billing run's mail.
_EXISTING_KEYS = text("SELECT idempotency_key FROM outbox_emails WHERE idempotency_key = ANY(CAST(:keys AS text[]))")
_ALLOCATE_SEQUENCES = text(
    """
    INSERT INTO email_recipient_sequences (recipient, last_sequence)
    SELECT recipient, count FROM unnest(CAST(:recipients AS text[]), CAST(:counts AS integer[])) AS v (recipient, count)
    ORDER BY recipient
    ON CONFLICT (recipient) DO UPDATE
        SET last_sequence = email_recipient_sequences.last_sequence + excluded.last_sequence
    RETURNING recipient, last_sequence
    """
)
_OUTBOX_ARRAYS = ("keys", "recipients", "sequences", "templates", "subjects", "texts", "htmls", "message_ids")
_WRITE_OUTBOX = text(
    """
    INSERT INTO outbox_emails (idempotency_key, recipient, sequence, template, subject, body_text, body_html,
                               message_id, status, attempts, last_error, next_attempt_at, created_at)
    SELECT key, recipient, sequence, template, subject, body_text, body_html, message_id,
           :status, 0, '', :now, :now
    FROM unnest(CAST(:keys AS text[]), CAST(:recipients AS text[]), CAST(:sequences AS integer[]),
                CAST(:templates AS text[]), CAST(:subjects AS text[]), CAST(:texts AS text[]),
                CAST(:htmls AS text[]), CAST(:message_ids AS text[]))
         AS v (key, recipient, sequence, template, subject, body_text, body_html, message_id)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING recipient
    """
)


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/email/<template>.txt and .html.

    The text template defines `subject` and `body` blocks; the HTML one extends email/base.html.
    """
    return _Renderer().render(template, context)


class _Renderer:
    """Renders many emails with each template looked up once and its globals flattened once.

    Jinja's own `render` merges the environment's globals (a chain of dicts) into every context it
    makes, three per email; for a bulk of mail (a billing run's 10,000) that merge was most of the
    rendering. Here each context is one plain dict: globals, then the message's values (which win,
    as with `render`)."""

    def __init__(self):
        self.env = current_app.jinja_env
        self.base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        self.templates: dict[str, tuple] = {}

    def _pair(self, template: str) -> tuple:
        if template not in self.templates:
            text_template = self.env.get_template(f"email/{template}.txt")
            html_template = self.env.get_template(f"email/{template}.html")
            self.templates[template] = (
                text_template,
                dict(text_template.globals),
                html_template,
                dict(html_template.globals),
            )
        return self.templates[template]

    def render(self, template: str, context: dict) -> tuple[str, str, str]:
        text_template, text_globals, html_template, html_globals = self._pair(template)
        values = {"base_url": self.base_url, **context}
        text_context = text_template.new_context({**text_globals, **values}, shared=True)
        # Names typed by people end up here: the subject is always one line, whatever they hold.
        subject = single_line("".join(text_template.blocks["subject"](text_context)))
        body_text = "".join(text_template.blocks["body"](text_context)).strip() + "\n"
        html_context = html_template.new_context({**html_globals, **values, "subject": subject}, shared=True)
        body_html = self.env.concat(html_template.root_render_func(html_context))
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


def queue_emails(messages: list[tuple[str, str, dict, str]]) -> int:
    """Many messages at once, set-based: `messages` are (recipient, template, context, idempotency key).

    The same promises as `queue_email`, with a fixed number of statements per call: one upsert
    hands every recipient a block of sequence numbers (in the order of `messages`, so a person's
    mail keeps its order), one INSERT ... ON CONFLICT DO NOTHING writes the outbox rows (a key
    already queued is skipped; its sequence number becomes a gap, which the sender allows), and
    one pipelined enqueue after the commit starts a sender per recipient. Flushes only; returns
    how many rows were written.
    """
    if not messages:
        return 0
    if len(messages) > _MESSAGES_PER_CALL:
        return sum(
            queue_emails(messages[start : start + _MESSAGES_PER_CALL])
            for start in range(0, len(messages), _MESSAGES_PER_CALL)
        )
    keys = [key for _recipient, _template, _context, key in messages]
    existing = set(db.session.scalars(_EXISTING_KEYS, {"keys": keys}))
    fresh, seen = [], set()
    for recipient, template, context, key in messages:
        if key not in existing and key not in seen:
            seen.add(key)
            fresh.append((recipient.strip().lower(), template, context, key))
    if not fresh:
        return 0
    wanted: dict[str, int] = {}
    for recipient, *_rest in fresh:
        wanted[recipient] = wanted.get(recipient, 0) + 1
    ordered = sorted(wanted.items())  # every allocator locks sequence rows in the same order
    last = dict(
        db.session.execute(
            _ALLOCATE_SEQUENCES,
            {"recipients": [recipient for recipient, _ in ordered], "counts": [count for _, count in ordered]},
        ).all()
    )
    following = {recipient: last[recipient] - count + 1 for recipient, count in wanted.items()}
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].rstrip(">") or "mcf.example"
    columns: dict[str, list] = {name: [] for name in _OUTBOX_ARRAYS}
    renderer = _Renderer()
    for recipient, template, context, key in fresh:
        subject, body_text, body_html = renderer.render(template, context)
        for name, value in (
            ("keys", key),
            ("recipients", recipient),
            ("sequences", following[recipient]),
            ("templates", template),
            ("subjects", subject),
            ("texts", body_text),
            ("htmls", body_html),
            ("message_ids", f"<{uuid.uuid4().hex}@{domain}>"),
        ):
            columns[name].append(value)
        following[recipient] += 1
    now = utcnow()
    written = list(db.session.scalars(_WRITE_OUTBOX, {**columns, "status": EmailStatus.PENDING.value, "now": now}))
    recipients = sorted(set(written))
    if recipients:
        after_commit(lambda: enqueue_sends(recipients))
    return len(written)


def enqueue_send(recipient: str, at=None) -> None:
    from app.platform.queues import enqueue

    enqueue("emails", SEND_JOB, recipient, at=at)


def enqueue_sends(recipients: list[str]) -> None:
    """Sender jobs for many recipients, _RECIPIENTS_PER_JOB people each, pushed to Redis in one
    pipeline (a Redis failure is logged; the sweep starts the senders of mail left pending)."""
    from app.platform.queues import enqueue_many

    if len(recipients) == 1:
        enqueue_send(recipients[0])
        return
    groups = [
        (recipients[start : start + _RECIPIENTS_PER_JOB],) for start in range(0, len(recipients), _RECIPIENTS_PER_JOB)
    ]
    enqueue_many("emails", SEND_MANY_JOB, groups)


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
