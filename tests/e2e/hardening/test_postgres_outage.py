"""Faults: PostgreSQL stops under a running worker (issue 11, point 1).

A private PostgreSQL (never the shared one: an embedded server in a temporary directory) carries
the data of a real `worker.py` with its cron. The worker is paused (SIGSTOP), an order is placed,
PostgreSQL is killed (`pg_ctl stop -m immediate`, as a crash) and the worker resumes: the order's
jobs, its cron and its sweep fail against the dead database for 20 s. PostgreSQL is started
again; without touching the worker, the order must be matched and every mail sent within a
minute, each once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.config import TestConfig, sqlalchemy_url
from app.extensions import db
from app.notifications.models import EmailStatus, OutboxEmail
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from scripts.devservices import free_port, start_postgres
from tests.support.browser import ROOT
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.manage import next_slot
from tests.support.orders import make_service
from tests.support.pipeline import SmtpSink, WorkerProcess, wait_until

OUTAGE_SECONDS = 20
RECOVERY_SECONDS = 60

pytestmark = pytest.mark.slow


class PrivatePostgres:
    """An embedded PostgreSQL that the test may crash and start again."""

    def __init__(self, directory):
        self.server = start_postgres(directory)
        self.url = self.server.get_uri("postgres")

    def crash(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture
def private_postgres():
    # Directly under /tmp: run as root, pgserver runs the server as another user, who must be able
    # to enter every directory above its data (pytest's own temporary directories are private).
    workdir = Path(tempfile.mkdtemp(prefix="mcf-pg-outage-"))
    os.chmod(workdir, 0o755)
    database = PrivatePostgres(workdir / "pg")
    env = {**os.environ, "MCF_ENV": "test", "DATABASE_URL": database.url}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True)
    yield database
    database.server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


def state(order_id: int):
    db.session.rollback()  # a fresh snapshot: the worker commits in another process
    order = db.session.get(Order, order_id)
    mails = list(db.session.scalars(select(OutboxEmail)))
    return order, mails


def test_a_postgres_crash_under_a_running_worker_recovers_by_itself(private_postgres, redis_url, tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(private_postgres.url), REDIS_URL=redis_url)
    sink = SmtpSink(free_port())
    sink.start()
    env = {
        **os.environ,
        "MCF_ENV": "test",
        "DATABASE_URL": private_postgres.url,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "SWEEP_INTERVAL_SECONDS": "5",
        "LOG_LEVEL": "INFO",
    }
    worker = WorkerProcess(["--name", f"pg-outage-{os.getpid()}"], env, tmp_path / "worker.log")
    try:
        with app.app_context():
            client, cat = ClientFactory(), WorkerFactory()
            service = make_service("Outage cleaning")
            db.session.commit()
            client_email, cat_id, cat_email = client.email, cat.id, cat.email

            # The worker is paused while the order is placed and PostgreSQL crashes, so the order's
            # jobs are waiting in Redis when it resumes against a dead database.
            os.killpg(worker.process.pid, signal.SIGSTOP)
            order = orders.request_order(
                client, service_type_id=service.id, description="Crash", slot_start=next_slot()
            )
            order_id = order.id
            db.session.commit()
            db.session.remove()
            private_postgres.crash()
            os.killpg(worker.process.pid, signal.SIGCONT)
            time.sleep(OUTAGE_SECONDS)
            assert worker.process.poll() is None, f"the worker died during the outage:\n{worker.log()}"
            private_postgres.start()
            db.engine.dispose()  # the test's own pooled connections died with the server

            def done():
                order, mails = state(order_id)
                recipients = {mail.recipient for mail in mails}
                return (
                    order.status == OrderStatus.MATCHED
                    and order.worker_id == cat_id
                    and {client_email, cat_email} <= recipients
                    and all(mail.status == EmailStatus.SENT for mail in mails)
                )

            assert "OperationalError" in worker.log(), "the worker met the outage"
            started = time.monotonic()
            wait_until(done, RECOVERY_SECONDS, worker.log, interval=0.5)
            print(f"recovered {time.monotonic() - started:.1f} s after PostgreSQL came back")
            _order, mails = state(order_id)
            wait_until(lambda: len(sink.messages) >= len(mails), 10, worker.log)
            assert Counter(message.message_id for message in sink.messages) == Counter(m.message_id for m in mails)
            db.session.remove()
    finally:
        worker.stop()
        sink.stop()
