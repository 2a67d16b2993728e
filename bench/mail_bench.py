"""Benchmark: the mail pipeline (US-300) into a local SMTP server. Not a test.

It creates a scratch database on DATABASE_URL's server (migrated), claims an empty Redis database
(as the test suite does; emptied at the end), starts an SMTP server on a free 127.0.0.1 port in
this process (aiosmtpd; it records each message's recipient, X-MCF-Sequence and arrival time) and
real `worker.py` processes on that database, Redis database and SMTP port. Then:

- throughput: BENCH_MESSAGES messages to BENCH_RECIPIENTS people are queued in one transaction
  (`queue_emails`) while the workers are idle, and timed until the SMTP server has them all,
  with one worker and with two (`worker.py events emails`). Baseline, same run: the same number
  of messages handed straight to the SMTP server by one process (no database, no queue);
- latency: `order.requested` events are published at BENCH_EVENTS_PER_SECOND for BENCH_SECONDS
  (orders filled beforehand), each in its own commit, with two workers delivering events and mail;
  the latency is from the event's commit to its "order requested" mail arriving over SMTP.
  Baseline, same run: one message handed to SMTP directly.

Per-recipient order is checked in the same run: every person's messages must arrive in sequence
order, or the benchmark fails (exit 1). Everything it started is stopped, the database dropped.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/mail_bench.py
"""

from __future__ import annotations

import email
import os
import secrets
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MCF_ENV", "test")
from bench.scratch import claim_redis  # noqa: E402
from bench.summary import print_table, summary_row  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", 2000))
RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", 200))
EVENTS_PER_SECOND = float(os.environ.get("BENCH_EVENTS_PER_SECOND", 50))
SECONDS = float(os.environ.get("BENCH_SECONDS", 20))


class Sink:
    """An SMTP server that records (arrival time, recipient, sequence, message id) per message."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[float, str, int, str]] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls hooks by this name
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        arrived = time.time()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                sequence = int(parsed["X-MCF-Sequence"] or 0)
                self.received.append((arrived, recipient.lower(), sequence, str(parsed["Message-ID"])))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def out_of_order(self) -> list[str]:
        """Recipients whose messages arrived out of sequence order."""
        last: dict[str, int] = {}
        wrong = set()
        with self.lock:
            for _arrived, recipient, sequence, _id in self.received:
                if sequence <= last.get(recipient, 0):
                    wrong.add(recipient)
                last[recipient] = sequence
        return sorted(wrong)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


class Workers:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.processes = env, log_dir, []

    def start(self, count: int, redis: Redis) -> None:
        from rq import Worker

        before = len(Worker.all(connection=redis))
        for _ in range(count):
            number = len(self.processes)
            log = open(self.log_dir / f"worker-{number}.log", "wb")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, str(ROOT / "worker.py"), "events", "emails", "--no-cron"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_for(lambda: len(Worker.all(connection=redis)) >= before + count, 60, "the workers to listen")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.processes = []


def direct_smtp(port: int, count: int) -> float:
    """Baseline: hand `count` messages straight to the SMTP server, one connection each."""
    started = time.perf_counter()
    for number in range(count):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@bench.example", "baseline@bench.example", "x"
        message["X-MCF-Sequence"] = str(number + 1)
        message.set_content("baseline")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(message)
    return time.perf_counter() - started


FILL = """
INSERT INTO service_types (name, description, base_price_cents, duration_minutes, skills, consumables, created_at)
VALUES ('House cleaning', '', 10000, 120, ARRAY['cleaning'], ARRAY[]::varchar[], now());
INSERT INTO users (email, name, active, session_version, created_at)
SELECT 'client' || g || '@bench.example', 'Client ' || g, true, 0, now() FROM generate_series(1, %(clients)s) g;
INSERT INTO user_roles (user_id, role) SELECT id, 'client' FROM users;
INSERT INTO client_profiles (user_id, address, payment_method) SELECT id, id || ' Bench Street', 'card' FROM users;
INSERT INTO orders (client_id, service_type_id, description, address, slot_start, slot_end, status,
                    base_price_cents, discount_percent, price_cents, created_at, finish_reason)
SELECT c.first + g %% %(clients)s, (SELECT min(id) FROM service_types), 'Bench order', 'Bench Street',
       now() + interval '3 days', now() + interval '3 days 2 hours', 'requested', 10000, 0, 10000, now(), ''
FROM generate_series(1, %(orders)s) g CROSS JOIN (SELECT min(id) AS first FROM users) c
"""


def measure(url: str, redis_url: str, redis: Redis, log_dir: Path) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig, sqlalchemy_url
    from app.events import publish
    from app.extensions import db
    from app.notifications.models import OutboxEmail
    from app.notifications.services import queue_emails
    from app.orders.models import Order
    from app.orders.states import order_payload

    sink = Sink()
    sink.controller.start()
    settings = {
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
    }
    app = create_app(TestConfig, **{**settings, "MAIL_PORT": sink.port})
    workers = Workers({**os.environ, **settings, "DATABASE_URL": url, "MCF_ENV": "test"}, log_dir)
    events = int(EVENTS_PER_SECOND * SECONDS)
    try:
        with app.app_context(), app.test_request_context():
            upgrade()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SET session_replication_role = replica")
                for statement in FILL.split(";\n"):
                    conn.execute(statement, {"clients": max(1, min(RECIPIENTS, events)), "orders": max(1, events)})
                conn.execute("SET session_replication_role = DEFAULT")
                conn.execute("VACUUM ANALYZE")
            baseline = direct_smtp(sink.port, min(MESSAGES, 200)) / min(MESSAGES, 200)
            sink.clear()
            summary_row(
                "SMTP hand-off, one process, no database",
                1 / baseline,
                "msg/s",
                goal="baseline",
            )
            context = {"name": "Bench", "link": "http://127.0.0.1/reset", "hours": 2}
            for count in (1, 2):
                workers.start(count - len(workers.processes), redis)
                messages = [
                    (f"person{number % RECIPIENTS}@bench.example", "password_reset", context, f"bench:{count}:{number}")
                    for number in range(MESSAGES)
                ]
                queue_emails(messages)
                started = time.perf_counter()
                db.session.commit()  # the sender jobs are enqueued after this commit
                wait_for(lambda: sink.count() >= MESSAGES, 600, f"{MESSAGES} messages")
                seconds = time.perf_counter() - started
                wrong = sink.out_of_order()
                if wrong:
                    raise SystemExit(f"per-recipient order lost for {len(wrong)} recipients, e.g. {wrong[:3]}")
                summary_row(
                    f"throughput, {count} worker(s), {MESSAGES:,} messages to {RECIPIENTS:,} people, order kept",
                    MESSAGES / seconds,
                    "msg/s",
                    baseline=1 / baseline,
                    baseline_label="direct SMTP",
                    goal=">= 200 msg/s with 2 workers" if count == 2 else "",
                    ok=(MESSAGES / seconds >= 200) if count == 2 else None,
                )
                print(f"  {count} worker(s): {MESSAGES:,} messages in {seconds:.2f} s", flush=True)
                sink.clear()

            # Latency under a steady flow of order events, two workers.
            order_ids = list(db.session.scalars(db.text("SELECT id FROM orders ORDER BY id")))
            committed: dict[int, float] = {}
            interval = 1 / EVENTS_PER_SECOND
            start = time.perf_counter()
            for number, order_id in enumerate(order_ids[:events]):
                delay = start + number * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                # The payload every consumer expects (the tote, quality and matching read it too).
                event = publish("order.requested", "order", order_id, order_payload(db.session.get(Order, order_id)))
                db.session.commit()
                committed[event.id] = time.time()
            achieved = events / (time.perf_counter() - start)
            keys = {f"event:{event_id}:order_requested": event_id for event_id in committed}

            def arrived() -> dict[str, float]:
                with sink.lock:
                    return {message_id: at for at, _recipient, _sequence, message_id in sink.received}

            def sent_rows() -> list:
                rows = db.session.execute(
                    db.select(OutboxEmail.message_id, OutboxEmail.idempotency_key).where(
                        OutboxEmail.idempotency_key.in_(list(keys))
                    )
                ).all()
                db.session.rollback()
                return rows

            def all_arrived() -> bool:
                rows = sent_rows()
                seen = arrived()
                return len(rows) == len(keys) and all(row.message_id in seen for row in rows)

            try:
                wait_for(all_arrived, max(120, events * 0.6), "every order's mail")
            except TimeoutError as timeout:  # reported with the mail that did arrive
                print(f"  {timeout}", flush=True)
            seen = arrived()
            latencies = sorted(
                seen[message_id] - committed[keys[key]] for message_id, key in sent_rows() if message_id in seen
            )
            missing = len(keys) - len(latencies)
            if not latencies:
                raise SystemExit("no order mail arrived")
            wrong = sink.out_of_order()
            if wrong:
                raise SystemExit(f"per-recipient order lost for {len(wrong)} recipients, e.g. {wrong[:3]}")
            p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
            summary_row(
                f"order event -> mail at SMTP, p50, {achieved:.0f} events/s for {SECONDS:.0f} s, 2 workers",
                statistics.median(latencies) * 1000,
                "ms",
                baseline=baseline * 1000,
                baseline_label="one direct SMTP hand-off",
            )
            summary_row(
                f"order event -> mail at SMTP, p95, {achieved:.0f} events/s, 2 workers, order kept"
                + (f", {missing} of {len(keys)} not arrived by the deadline" if missing else ""),
                p95 * 1000,
                "ms",
                baseline=baseline * 1000,
                baseline_label="one direct SMTP hand-off",
                goal="< 2000 ms at 50 events/s",
                ok=p95 < 2 and achieved >= 45 and not missing if EVENTS_PER_SECOND >= 50 else None,
            )
    finally:
        workers.stop()
        sink.controller.stop()
        from app.extensions import db as database

        with app.app_context():
            database.engine.dispose()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url, redis = claim_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    name = f"mcf_bench_mail_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"mail pipeline: {MESSAGES:,} messages, {EVENTS_PER_SECOND:.0f} events/s for {SECONDS:.0f} s", flush=True)
    try:
        measure(urlunsplit(urlsplit(server)._replace(path="/" + name)), redis_url, redis, log_dir)
    finally:
        redis.flushdb()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped {name}, emptied {redis_url} (worker logs in {log_dir})", flush=True)
    print_table("mail pipeline")


if __name__ == "__main__":
    main()
