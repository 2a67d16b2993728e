"""Browser journeys in real Chromium (Debian's /usr/bin/chromium driven by playwright).

The stack under test is the real one: gunicorn serving the app, a worker.py process running the
event, email and default queues, and a local SMTP server recording every message, all on the
test database (committed data, tables emptied after each module)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.devservices import free_port, start_smtp_sink
from tests.support.browser import CHROMIUM, PHONE, ROOT, LiveStack, _stop


@pytest.fixture(scope="module")
def live_stack(app, database_url, redis_url, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test installs it where it can: apt-get)")
    workdir = tmp_path_factory.mktemp("live")
    mailbox = workdir / "mailbox"
    smtp_port, smtp = start_smtp_sink(mailbox)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MCF_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "PUBLIC_BASE_URL": base_url,
        "UPLOAD_DIR": str(workdir / "uploads"),
        "SWEEP_INTERVAL_SECONDS": "2",
    }
    logs = workdir / "logs"
    logs.mkdir()
    processes = []
    try:
        for name, command in {
            "worker": [sys.executable, "worker.py"],
            "web": [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        }.items():
            with open(logs / f"{name}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base_url + "/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError((logs / "web.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield LiveStack(base_url, mailbox, logs)
    finally:
        for process in processes:
            _stop(process)
        smtp.stop()
        from tests.support.fixtures import empty_tables

        empty_tables(app)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_stack):
    """Pages in fresh browser contexts (each a different person), closed after the test."""
    contexts = []

    def open_page(phone: bool = False):
        context = browser.new_context(base_url=live_stack.base_url, **(PHONE if phone else {}))
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
