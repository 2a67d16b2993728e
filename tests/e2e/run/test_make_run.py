"""`make run` smoke test: from a fresh instance folder and no DATABASE_URL/REDIS_URL, the stack
starts its embedded servers, answers on /login, the demo manager logs in, a worker created by the
manager gets the invitation in the local mailbox, and Ctrl-C leaves no process behind.

It runs scripts/dev.py (what `make run` calls after installing) with the project's virtualenv.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from scripts.devservices import free_port

ROOT = Path(__file__).resolve().parents[3]
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Browser:
    """Just enough of a browser: cookies, redirects, CSRF tokens from the page."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base + path, timeout=15) as response:
            return response.status, response.read().decode()

    def post_form(self, path: str, fields: dict) -> tuple[int, str, str]:
        _, page = self.get(path)
        data = urllib.parse.urlencode({**fields, "csrf_token": CSRF.search(page).group(1)}).encode()
        with self.opener.open(self.base + path, data=data, timeout=15) as response:
            return response.status, response.geturl(), response.read().decode()


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_make_run_starts_answers_sends_mail_and_stops_clean(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "MAIL_SERVER"}}
    env.update({"MCF_ENV": "development", "MCF_INSTANCE_DIR": str(instance), "PORT": str(port)})
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        stack = subprocess.Popen(
            [sys.executable, "scripts/dev.py", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    descendants: list[psutil.Process] = []
    try:
        _wait_for(lambda: "MCF is up" in log_path.read_text() or stack.poll() is not None, 240, "the stack to come up")
        assert stack.poll() is None, log_path.read_text()[-3000:]
        descendants = psutil.Process(stack.pid).children(recursive=True)

        browser = Browser(f"http://127.0.0.1:{port}")
        status, _ = browser.get("/login")
        assert status == 200
        # Each process logs to its own file; the terminal keeps the banner instead of access logs.
        _wait_for(lambda: "GET /login" in (instance / "logs" / "web.log").read_text(), 10, "the web log")
        assert (instance / "logs" / "worker.log").exists()
        assert "GET /login" not in log_path.read_text() and "tail -f" in log_path.read_text()
        status, url, page = browser.post_form("/login", {"email": "manager@example.com", "password": "demo-password"})
        assert status == 200 and url.endswith("/manage/") and "Overview" in page

        email = "newcat@example.com"
        status, url, page = browser.post_form("/manage/workers", {"email": email, "name": "New Cat", "age": "2"})
        assert status == 200 and email in page

        def invitation_in_mailbox():
            _, mailbox = browser.get("/manage/mailbox")
            match = re.search(r'href="(/manage/mailbox/[^"]+)">Welcome to MCF', mailbox)
            return match and email in mailbox and match.group(1)

        message_path = _wait_for(invitation_in_mailbox, 60, "the invitation in the dev mailbox")
        _, message = browser.get(message_path)
        link = re.search(r"(http://127\.0\.0\.1:\d+/invitation/[^\s<\"]+)", message).group(1)
        status, page = Browser(f"http://127.0.0.1:{port}").get(urllib.parse.urlsplit(link).path)
        assert status == 200 and "Set password" in page
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise
    assert stack.returncode == 0, log_path.read_text()[-3000:]
    assert "stopped." in log_path.read_text()

    survivors = [process for process in descendants if process.is_running() and process.status() != "zombie"]
    survivors += [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(str(instance) in part for part in (process.info["cmdline"] or []))
    ]
    assert not survivors, [process.info if hasattr(process, "info") else process for process in survivors]
    assert not (instance / "services.env").exists()
