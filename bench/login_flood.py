"""A flood of failed logins from 50 loopback addresses against other users' page loads. Not a test.

It creates a scratch database on DATABASE_URL's server, migrates it, adds a manager, starts
gunicorn as in production (`python -m gunicorn -w 2 wsgi:app`, full-strength argon2) on a free
port, and measures a signed-in manager's page (/manage/) for a while without load, then while 50
threads, each from its own address (127.0.0.2 to 127.0.0.51), post wrong passwords for many
accounts as fast as they can. It prints the page's p50/p95 in both phases (same run) and how the
flood was answered (422 wrong password, 429 throttled or over the password budget).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/login_flood.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import math
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _with(url: str, **parts) -> str:
    return urlunsplit(urlsplit(url)._replace(**parts))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One cookie, one source address, raw http.client (so the source address can be chosen)."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.port, self.source, self.cookie = port, source, ""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(self.source, 0))
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        connection.close()
        return response.status, text

    def login(self, email: str, password: str) -> int:
        _status, page = self.request("GET", "/login")
        return self.request(
            "POST", "/login", {"email": email, "password": password, "csrf_token": TOKEN.search(page)[1]}
        )[0]


def measure(browser: Browser, seconds: float) -> list[float]:
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, _ = browser.request("GET", "/manage/")
        assert status == 200, status
        times.append((time.perf_counter() - started) * 1000)
    return times


def flood(port: int, address: str, stop: threading.Event, answers: collections.Counter) -> None:
    browser = Browser(port, address)
    _status, page = browser.request("GET", "/login")
    token = TOKEN.search(page)[1]
    number = 0
    while not stop.is_set():
        number += 1
        email = f"victim{number % 200}@example.com"
        status, _ = browser.request("POST", "/login", {"email": email, "password": "wrong", "csrf_token": token})
        answers[status] += 1


def flood_process(port: int, addresses: list[str], seconds: float, results) -> None:
    """One process of the flood (a process of its own, so the flood's threads do not take the GIL
    from the thread that measures the manager's page)."""
    if os.cpu_count() and os.cpu_count() > 1:  # the attacker is another machine: keep off the server's core
        os.sched_setaffinity(0, {os.cpu_count() - 1})
    stop, answers = threading.Event(), collections.Counter()
    threads = [threading.Thread(target=flood, args=(port, a, stop, answers), daemon=True) for a in addresses]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    results.put(dict(answers))


def p95(times: list[float]) -> float:
    """Nearest rank: with few samples, the slowest of them."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)]


def summary(times: list[float]) -> str:
    return f"{len(times):5d} requests, p50 {statistics.median(times):7.1f} ms, p95 {p95(times):7.1f} ms"


def _server_cores() -> None:
    if os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, set(range(os.cpu_count() - 1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mcf_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "MCF_ENV": "development",
        "DATABASE_URL": _with(server, path="/" + name),
        # A Redis database of its own; the limiter's keys expire by themselves (nothing is flushed).
        "REDIS_URL": _with(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), path="/12"),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = None
    try:
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True)
        script = "\n".join(
            [
                "from app import create_app",
                "from app.accounts.services import create_staff",
                "from app.extensions import db",
                "app = create_app()",
                "with app.app_context():",
                f"    create_staff('boss@example.com', 'Boss', ['manager'], password={PASSWORD!r})",
                "    db.session.commit()",
            ]
        )
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
        port = _free_port()
        gunicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            # The server keeps the other cores (the flood stands for other machines).
            preexec_fn=_server_cores,
        )
        manager = Browser(port)
        for _ in range(100):
            try:
                if manager.login("boss@example.com", PASSWORD) == 303:
                    break
            except OSError:
                time.sleep(0.2)
        baseline = measure(manager, args.seconds)
        addresses = [f"127.0.0.{n}" for n in range(2, 52)]
        results = multiprocessing.Queue()
        flooders = [
            multiprocessing.Process(target=flood_process, args=(port, addresses[i::2], args.seconds + 1.5, results))
            for i in range(2)
        ]
        for flooder in flooders:
            flooder.start()
        time.sleep(1)
        during = measure(manager, args.seconds)
        answers = collections.Counter()
        for _ in flooders:
            answers.update(results.get(timeout=90))
        for flooder in flooders:
            flooder.join(30)
        print(
            "\ngunicorn -w 2 (gthread, gunicorn.conf.py), full-strength argon2; the flood runs in two processes "
            f"of its own; a signed-in manager loads /manage/ for {args.seconds:g} s in each phase"
        )
        print(f"  without the flood: {summary(baseline)}")
        print(f"  during the flood:  {summary(during)}")
        print(f"  p95 ratio: {p95(during) / p95(baseline):.2f}")
        print(
            f"  flood from 50 addresses: {sum(answers.values())} failed logins answered {dict(sorted(answers.items()))}"
        )
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
