"""US-300: the email outbox delivers every message, in order per recipient, through real workers
and a real SMTP server, across concurrent senders, an SMTP outage, dead letters and a killed worker.
"""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest

from app.notifications.models import EmailStatus
from tests.support.pipeline import outbox, queue_mail, wait_until

pytestmark = pytest.mark.slow


def _send_direct(port: int, recipient: str, sequence: int, message_id: str) -> None:
    message = EmailMessage()
    message["From"] = "noreply@mcf.example"
    message["To"] = recipient
    message["Subject"] = f"probe {sequence}"
    message["Message-ID"] = message_id
    message["X-MCF-Sequence"] = str(sequence)
    message.set_content("probe")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


def _all_sent(recipients: list[str], count: int):
    def all_sent():
        rows = [row for row in outbox() if row.recipient in recipients]
        return len(rows) == count and all(row.status == EmailStatus.SENT for row in rows)

    return all_sent


def test_us300_smtp_sink_records_messages_and_restarts_on_the_same_port(smtp_sink):
    _send_direct(smtp_sink.port, "First@Example.com", 1, "<one@mcf.example>")
    smtp_sink.stop()
    with pytest.raises(OSError):
        _send_direct(smtp_sink.port, "first@example.com", 2, "<two@mcf.example>")
    smtp_sink.start()
    _send_direct(smtp_sink.port, "first@example.com", 3, "<three@mcf.example>")

    received = smtp_sink.to("first@example.com")
    assert [(m.sequence, m.message_id) for m in received] == [(1, "<one@mcf.example>"), (3, "<three@mcf.example>")]
    assert received[0].order < received[1].order


def test_us300_order_per_recipient_with_concurrent_workers_and_producers(app, committed_db, workers, smtp_sink):
    """Three workers send while two producers queue: every message arrives once, in sequence order."""
    from rq import Worker

    from app.platform.queues import get_queue

    recipients = [f"order{i}@example.com" for i in range(3)]
    per_producer = 8
    for _ in range(3):
        workers("emails")
    wait_until(lambda: Worker.count(queue=get_queue("emails")) == 3, message=workers.logs)  # all listening

    def produce(producer: int) -> None:
        with app.app_context():
            for n in range(per_producer):
                for recipient in recipients:
                    queue_mail(recipient, f"us300-order-{producer}-{n}-{recipient}")

    producers = [threading.Thread(target=produce, args=(p,)) for p in range(2)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join(60)
    total = 2 * per_producer * len(recipients)
    wait_until(_all_sent(recipients, total), message=workers.logs)

    for recipient in recipients:
        rows = outbox(recipient)
        assert [row.sequence for row in rows] == list(range(1, len(rows) + 1))
        received = smtp_sink.to(recipient)
        assert [m.sequence for m in received] == [row.sequence for row in rows], "out of order or duplicated"
        assert [m.message_id for m in received] == [row.message_id for row in rows]
        assert all(row.attempts == 1 for row in rows)


def test_us300_smtp_down_then_up_retries_with_backoff_and_holds_later_mail(committed_db, workers, smtp_sink):
    held, other = "held@example.com", "other@example.com"
    smtp_sink.stop()
    for n in range(3):
        queue_mail(held, f"us300-down-held-{n}")
    for n in range(2):
        queue_mail(other, f"us300-down-other-{n}")
    workers("emails")  # long-running: its RQ scheduler moves the retries when they are due

    seen = {}

    def head_failed_twice():
        head, *later = outbox(held)
        seen.setdefault(head.attempts, (head, later))
        return head.attempts >= 2

    wait_until(head_failed_twice, message=workers.logs)
    smtp_sink.start()  # the 3rd of EMAIL_MAX_ATTEMPTS=4 tries goes through

    head, later = seen[2]
    assert head.status == EmailStatus.PENDING
    assert "Connection refused" in head.last_error or "ConnectionRefused" in head.last_error
    assert [(row.status, row.attempts) for row in later] == [(EmailStatus.PENDING, 0)] * 2, "later mail not held"
    if 1 in seen:  # retry 1 waits base (0.2 s) and retry 2 twice that, after retry 1 was due
        assert head.next_attempt_at - seen[1][0].next_attempt_at >= timedelta(seconds=0.4)

    wait_until(_all_sent([held, other], 5), message=workers.logs)
    rows = outbox(held)
    assert rows[0].attempts in (3, 4) and rows[0].last_error == ""
    assert [row.attempts for row in rows[1:]] == [1, 1], "a later message was tried while the head was failing"
    for recipient in (held, other):
        assert smtp_sink.sequences_to(recipient) == [row.sequence for row in outbox(recipient)]
    assert not [row for row in outbox() if row.status == EmailStatus.DEAD]


def test_us300_dead_letter_lets_the_line_move_on_and_a_manager_retry_sends_it(committed_db, workers, smtp_sink):
    from app.extensions import db
    from app.notifications.models import OutboxEmail
    from app.notifications.services import retry_email

    recipient = "dead@example.com"
    smtp_sink.stop()
    first = queue_mail(recipient, "us300-dead-0").id
    for n in range(1, 3):
        queue_mail(recipient, f"us300-dead-{n}")
    workers("emails")

    wait_until(lambda: outbox(recipient)[0].status == EmailStatus.DEAD, message=workers.logs)
    smtp_sink.start()
    dead = outbox(recipient)[0]
    assert dead.attempts == 4  # TestConfig.EMAIL_MAX_ATTEMPTS
    assert "Connection refused" in dead.last_error or "ConnectionRefused" in dead.last_error

    wait_until(lambda: [row.status for row in outbox(recipient)] == ["dead", "sent", "sent"], message=workers.logs)
    assert smtp_sink.sequences_to(recipient) == [2, 3]

    retry_email(db.session.get(OutboxEmail, first))
    db.session.commit()
    wait_until(lambda: outbox(recipient)[0].status == EmailStatus.SENT, message=workers.logs)
    rows = outbox(recipient)
    assert smtp_sink.sequences_to(recipient) == [2, 3, 1]
    assert [m.message_id for m in smtp_sink.to(recipient)] == [
        rows[1].message_id,
        rows[2].message_id,
        rows[0].message_id,
    ]
    assert rows[0].last_error == ""


def test_us300_worker_killed_mid_send_loses_nothing(committed_db, workers, run_burst, smtp_sink):
    """SIGKILL the worker's process group while the SMTP server holds a message: the sweep recovers.

    The killed send had reached the server, so that message arrives twice, with one Message-ID.
    """
    from app.platform.queues import get_queue

    recipient, other = "killed@example.com", "bystander@example.com"
    smtp_sink.delay = 4  # below MAIL_TIMEOUT_SECONDS (5): the send is in progress, not timed out
    for n in range(3):
        queue_mail(recipient, f"us300-kill-{n}")
    queue_mail(other, "us300-kill-other")
    worker = workers("emails")

    wait_until(smtp_sink.sending.is_set, message=workers.logs)
    worker.kill()
    smtp_sink.delay = 0
    assert len(smtp_sink.messages) == 1
    assert all(row.status == EmailStatus.PENDING for row in outbox()), "the killed send must not be committed"

    # The killed worker's job is gone; drop whatever else Redis holds too: only the sweep recovers.
    get_queue("emails").empty()
    get_queue("default").enqueue("app.platform.sweep.sweep")
    run_burst("default", "emails")

    rows = outbox()
    assert all(row.status == EmailStatus.SENT for row in rows), workers.logs()
    by_id = {row.message_id: row for row in rows}
    received = smtp_sink.messages
    assert {m.message_id for m in received} == set(by_id), "a message was lost"
    for message in received:  # a duplicate carries the same Message-ID as its outbox row
        assert (by_id[message.message_id].recipient, by_id[message.message_id].sequence) == (
            message.recipient,
            message.sequence,
        )
    sequences = smtp_sink.sequences_to(recipient)
    assert sequences == sorted(sequences) and set(sequences) == {1, 2, 3}
    assert len(received) == len(rows) + 1, (
        received,
        [(r.recipient, r.sequence, r.attempts, r.message_id) for r in rows],
        workers.logs(),
    )
