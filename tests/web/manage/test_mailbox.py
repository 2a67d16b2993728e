"""The development mailbox (issue 12, point 10): every message the sink kept is reachable by paging
(not only the newest 200), search by recipient or subject, the list read from the sink's index
without opening the messages, and messages of an older sink (no index line) listed all the same."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

from app.platform import dev_mailbox
from scripts.devservices import MailboxHandler
from tests.support.web import config_values


def mail(number: int, to: str | None = None, subject: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "MCF <noreply@mcf.example>"
    message["To"] = to or f"person{number % 7}@example.com"
    message["Subject"] = subject or f"Message number {number:03d}"
    message["Date"] = "Wed, 02 Dec 2026 09:00:00 +0000"
    message.set_content(f"Body of message {number}.")
    return message.as_bytes()


def deliver(directory, *raw_messages: bytes) -> None:
    """Through the real sink's handler, as `make run` stores mail."""
    handler = MailboxHandler(directory)

    async def all_of_them():
        for raw in raw_messages:
            await handler.handle_DATA(None, None, SimpleNamespace(original_content=raw, content=None))

    asyncio.run(all_of_them())


def subjects(html: str) -> list[str]:
    return re.findall(r'<a href="/manage/mailbox/[^"]+">([^<]*)</a>', html)


@pytest.fixture
def mailbox(app, tmp_path):
    directory = tmp_path / "mailbox"
    with config_values(app, DEV_MAILBOX_DIR=str(directory)):
        deliver(directory)  # creates the directory, as the sink does at start
        yield directory


def test_every_message_is_reachable_by_paging_newest_first(manager_client, mailbox):
    deliver(mailbox, *(mail(number) for number in range(230)))
    first = manager_client.get("/manage/mailbox")
    assert first.status_code == 200
    assert "Development mailbox <small>(230)</small>" in first.text
    assert subjects(first.text) == [f"Message number {n:03d}" for n in range(229, 179, -1)]
    last = manager_client.get("/manage/mailbox?page=5").text
    assert subjects(last) == [f"Message number {n:03d}" for n in range(29, -1, -1)]  # older than the newest 200
    assert "Older &rarr;" in first.text and "Older &rarr;" not in last


def test_search_by_recipient_or_subject_whatever_the_case(manager_client, mailbox):
    deliver(
        mailbox,
        mail(1, to="Luna <luna@example.com>", subject="Kit ready for order #5"),
        mail(2, to="tom@example.com", subject="Invoice for Luna's week"),
        mail(3, to="tom@example.com", subject="Order #6 matched"),
        *(mail(10 + n, to="luna@example.com", subject=f"Order #{100 + n} completed") for n in range(60)),
    )
    by_recipient = manager_client.get("/manage/mailbox?q=LUNA@example").text
    assert "61 messages found." in by_recipient
    assert "Kit ready for order #5" not in by_recipient  # the oldest is on page 2 of the results
    page_two = manager_client.get("/manage/mailbox?q=LUNA@example&page=2").text
    assert subjects(page_two) == [f"Order #{n} completed" for n in range(109, 99, -1)] + ["Kit ready for order #5"]
    assert 'href="/manage/mailbox?page=1&amp;q=LUNA@example"' in page_two  # the search stays on while paging
    assert "62 messages found." in manager_client.get("/manage/mailbox?q=luna").text  # recipients and a subject
    by_subject = manager_client.get("/manage/mailbox?q=INVOICE").text
    assert subjects(by_subject) == ["Invoice for Luna&#39;s week"] and "1 message found." in by_subject
    nothing = manager_client.get("/manage/mailbox?q=nobody-at-all").text
    assert "0 messages found." in nothing and "No message to or about “nobody-at-all”." in nothing


def test_the_list_comes_from_the_index_and_only_the_opened_message_is_parsed(manager_client, mailbox):
    deliver(mailbox, mail(1, subject="As it was sent"))
    [path] = mailbox.glob("*.eml")
    lines = (mailbox / dev_mailbox.INDEX_NAME).read_text().splitlines()
    assert len(lines) == 1 and '"subject": "As it was sent"' in lines[0]
    # Change the stored file behind the index's back: the list still shows the indexed headers,
    # the message's own page reads the file.
    path.write_bytes(mail(1, subject="Rewritten on disk"))
    assert subjects(manager_client.get("/manage/mailbox").text) == ["As it was sent"]
    opened = manager_client.get(f"/manage/mailbox/{path.stem}")
    assert opened.status_code == 200 and "Rewritten on disk" in opened.text and "Body of message 1." in opened.text


def test_a_new_message_shows_on_the_next_request(manager_client, mailbox):
    deliver(mailbox, mail(1))
    assert subjects(manager_client.get("/manage/mailbox").text) == ["Message number 001"]
    deliver(mailbox, mail(2))
    assert subjects(manager_client.get("/manage/mailbox").text) == ["Message number 002", "Message number 001"]


def test_messages_of_an_older_sink_without_index_lines_are_listed_too(manager_client, mailbox):
    deliver(mailbox, mail(2, subject="Indexed"))
    (mailbox / "20200101-000000-00000000000000000001-00001.eml").write_bytes(mail(1, subject="From an older sink"))
    html = manager_client.get("/manage/mailbox?q=older").text
    assert subjects(html) == ["From an older sink"]
    assert subjects(manager_client.get("/manage/mailbox").text) == ["Indexed", "From an older sink"]


def test_a_damaged_index_line_falls_back_to_the_message_itself(manager_client, mailbox):
    deliver(mailbox, mail(1, subject="Still listed"))
    with open(mailbox / dev_mailbox.INDEX_NAME, "a") as index:
        index.write('{"id": "broken"\n')
    assert subjects(manager_client.get("/manage/mailbox").text) == ["Still listed"]


def test_unknown_or_malformed_message_names_are_404(manager_client, mailbox):
    deliver(mailbox, mail(1))
    assert manager_client.get("/manage/mailbox/nope").status_code == 404
    assert manager_client.get("/manage/mailbox/..%2Findex").status_code == 404
    assert manager_client.get("/manage/mailbox/index").status_code == 404


def test_without_a_sink_there_is_no_mailbox(app, manager_client):
    with config_values(app, DEV_MAILBOX_DIR=None):
        assert manager_client.get("/manage/mailbox").status_code == 404
