"""Helpers for browser tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class LiveStack:
    def __init__(self, base_url: str, mailbox: Path, logs: Path):
        self.base_url = base_url
        self.mailbox = mailbox
        self.logs = logs

    def messages(self) -> list:
        """Every message the SMTP server received, in arrival order."""
        import email
        import email.policy

        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.mailbox.glob("*.eml"))
        ]

    def messages_to(self, recipient: str) -> list:
        return [message for message in self.messages() if recipient in message["To"]]

    def wait_for_mail(self, recipient: str, subject_part: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages_to(recipient):
                if subject_part.lower() in message["Subject"].lower():
                    return message
            time.sleep(0.2)
        subjects = [(m["To"], m["Subject"]) for m in self.messages()]
        raise AssertionError(f"no mail to {recipient} about {subject_part!r}; got {subjects}")


def log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
