"""Time the development mailbox page (/manage/mailbox) over a sink holding many messages. Not a test.

It fills a temporary directory through the real SMTP sink's handler (`scripts/devservices.py`,
so whatever the sink writes beside the messages is written too) with BENCH_MAILBOX_MESSAGES
(5,000) mails to 200 people, then times the page's view in a request context, template included:
the first request of a process (cold), then the median of repeated requests (warm) for the first
page, a search and a deep page, and the first page when a new message came in before each
request. It needs no database or Redis. Baseline (same run): the page's template with an empty
list.

    .venv/bin/python bench/mailbox_page.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.summary import print_table, summary_row  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MAILBOX_MESSAGES", "5000"))
REPEAT = int(os.environ.get("BENCH_MAILBOX_REPEAT", "15"))
SUBJECTS = [
    "Your order #{n} is matched: Whiskers is coming",
    "Kit ready for order #{n}",
    "Invoice for the week of 9 Nov: {n}.00 units",
    "Order #{n} completed",
    "Welcome to MCF",
]


def message(number: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "MCF <noreply@mcf.example>"
    mail["To"] = f"Person {number % 200} <person{number % 200}@example.com>"
    mail["Subject"] = SUBJECTS[number % len(SUBJECTS)].format(n=number)
    mail["Date"] = "Wed, 02 Dec 2026 09:00:00 +0000"
    mail["Message-ID"] = f"<bench-{number}@mcf.example>"
    mail.set_content(("Hello,\n\nThis is what happened with your order.\n" * 20) + f"\nNumber {number}\n")
    return mail.as_bytes()


async def fill(directory: Path) -> None:
    from scripts.devservices import MailboxHandler

    handler = MailboxHandler(directory)
    for number in range(MESSAGES):
        await handler.handle_DATA(None, None, SimpleNamespace(original_content=message(number), content=None))


async def arrive(directory: Path, number: int) -> None:
    from scripts.devservices import MailboxHandler

    await MailboxHandler(directory).handle_DATA(
        None, None, SimpleNamespace(original_content=message(number), content=None)
    )


def timed(app, url: str) -> float:
    view = app.view_functions["managers.mailbox"]
    with app.test_request_context(url):
        started = time.perf_counter()
        response = view()
        body = response[0] if isinstance(response, tuple) else response
        assert "Development mailbox" in body
        return time.perf_counter() - started


def main() -> None:
    from flask import render_template

    from app import create_app
    from app.config import TestConfig

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "mailbox"
        started = time.perf_counter()
        asyncio.run(fill(directory))
        print(f"{MESSAGES} messages stored through the sink in {time.perf_counter() - started:.1f} s", flush=True)
        app = create_app(TestConfig, SECRET_KEY="bench-" + "x" * 40, DEV_MAILBOX_DIR=str(directory))

        with app.test_request_context("/manage/mailbox"):
            render_template("manage/mailbox.html", messages=[], q="", page=1, has_next=False, total=0, found=0)
            started = time.perf_counter()
            for _ in range(REPEAT):
                render_template("manage/mailbox.html", messages=[], q="", page=1, has_next=False, total=0, found=0)
            empty = (time.perf_counter() - started) / REPEAT

        cold = timed(app, "/manage/mailbox")
        rows = [("first page, first request of the process", cold)]
        for label, url in [
            ("first page", "/manage/mailbox"),
            ("search 'person7@' (recipient)", "/manage/mailbox?q=person7%40"),
            ("search 'invoice' (subject)", "/manage/mailbox?q=invoice"),
            ("page 40", "/manage/mailbox?page=40"),
        ]:
            rows.append((label, statistics.median(timed(app, url) for _ in range(REPEAT))))
        # A message arriving between two requests makes the next one list the directory again.
        arrivals = []
        for number in range(REPEAT):
            asyncio.run(arrive(directory, MESSAGES + number))
            arrivals.append(timed(app, "/manage/mailbox"))
        rows.append(("first page, a new message before each request", statistics.median(arrivals)))
        for label, seconds in rows:
            summary_row(
                f"{MESSAGES:,} messages: {label}",
                seconds * 1000,
                "ms",
                baseline=empty * 1000,
                baseline_label="the template with no messages",
            )
        print_table("dev mailbox page")


if __name__ == "__main__":
    main()
