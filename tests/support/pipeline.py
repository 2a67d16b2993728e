"""Helpers for pipeline tests (moved out of their conftest, so no test imports a conftest)."""

from __future__ import annotations

import asyncio
import email
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


WAIT_SECONDS = 30  # a deadline, never a sleep: every wait below polls and returns as soon as it can


def wait_until(predicate: Callable[[], object], timeout: float = WAIT_SECONDS, message="", interval: float = 0.02):
    """Poll until predicate() is truthy and return its value; fail at the deadline.

    message may be a callable (e.g. the workers' logs), evaluated only on failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = message() if callable(message) else message
            name = getattr(predicate, "__name__", "a condition")
            pytest.fail(f"timed out after {timeout}s waiting for {name}\n{detail}")
        time.sleep(interval)


@dataclass(frozen=True)
class Received:
    order: int
    recipient: str
    message_id: str
    sequence: int
    subject: str


class SmtpSink:
    """An SMTP server on 127.0.0.1:port that records every message in arrival order.

    It can be stopped (connections are refused: "SMTP down") and started again on the same port.
    `delay` holds each message after its data arrived and before the server answers 250, so a
    test can act while a send is in progress; `sending` is set when a message is being held.
    A message counts as received once its data arrived, like a real server that queued it.
    """

    def __init__(self, port: int):
        self.port = port
        self.delay = 0.0
        self.sending = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._counter = itertools.count(1)
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls hooks by this name
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        with self._lock:
            order = next(self._counter)
            for recipient in envelope.rcpt_tos:
                self._messages.append(
                    Received(
                        order=order,
                        recipient=recipient.lower(),
                        message_id=str(parsed["Message-ID"]),
                        sequence=int(parsed["X-MCF-Sequence"]),
                        subject=str(parsed["Subject"]),
                    )
                )
        if self.delay:
            self.sending.set()
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        assert self._controller is None, "the sink is already running"
        controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def to(self, recipient: str) -> list[Received]:
        return [message for message in self.messages if message.recipient == recipient]

    def sequences_to(self, recipient: str) -> list[int]:
        return [message.sequence for message in self.to(recipient)]


def _session_members(sid: int) -> list[int]:
    """Live processes of session sid (a zombie is dead already, only not reaped yet)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (OSError, psutil.Error):
            pass
    return members


class WorkerProcess:
    """A `worker.py` subprocess, leading a session of its own."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.args = args
        self.log_path = log_path
        self._stop_requested = False
        self._log = open(log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "worker.py"), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {self.args} did not exit within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the worker and all it started: its scheduler, and the work horse RQ forks per job.

        The horse leaves the worker's process group (RQ calls setpgrp), so killing the group is not
        enough; everything stays in the session the worker leads, so that is what is killed.
        """
        deadline = time.monotonic() + 10
        while members := _session_members(self.pid):
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of worker {self.pid} survived SIGKILL: {members}")
            time.sleep(0.01)
            self.process.poll()  # reap the leader, so it stops counting as live
        self.process.wait(10)

    def request_stop(self) -> None:
        """Ask for a warm shutdown (the current job finishes); a second SIGTERM would be a cold one."""
        if not self._stop_requested and self.process.poll() is None:
            self._stop_requested = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Warm shutdown, then make sure nothing of the worker is left."""
        self.request_stop()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        self._log.close()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]


def queue_mail(recipient: str, key: str):
    """Queue one message in a committed transaction of its own; returns its outbox row."""
    from app.extensions import db
    from app.notifications.services import queue_email

    row = queue_email(
        recipient, "password_reset", {"name": "Tom", "link": f"http://test/{key}", "hours": 2}, idempotency_key=key
    )
    db.session.commit()
    return row


def outbox(recipient: str | None = None):
    """The outbox rows (of one recipient) as committed now, by recipient and sequence, detached."""
    from sqlalchemy import select

    from app.extensions import db
    from app.notifications.models import OutboxEmail

    db.session.rollback()  # a fresh snapshot: the workers commit in other processes
    query = select(OutboxEmail).order_by(OutboxEmail.recipient, OutboxEmail.sequence)
    if recipient is not None:
        query = query.where(OutboxEmail.recipient == recipient)
    rows = list(db.session.scalars(query))
    db.session.expunge_all()
    return rows
