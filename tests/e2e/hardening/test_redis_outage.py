"""Faults: a 30-second Redis outage in the middle of an order's flow stops nothing for good.

A private Redis (never the shared one) carries the work of a real `worker.py` with its cron, on
the test database. Redis is stopped (its process terminated, its queued jobs lost), an order is
placed during the outage, Redis is started again 30 s later on the same port, empty; without
touching any other process, the order must be matched and every mail sent within a minute.
"""

from __future__ import annotations

import os
import time

import pytest
from redis import Redis
from sqlalchemy import select

from app.notifications.models import EmailStatus, OutboxEmail
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from scripts.devservices import free_port, start_redis
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.manage import next_slot
from tests.support.orders import make_service
from tests.support.pipeline import SmtpSink, WorkerProcess, wait_until

OUTAGE_SECONDS = 30
RECOVERY_SECONDS = 60

pytestmark = pytest.mark.slow


class PrivateRedis:
    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.url, self.process = start_redis(directory, port=self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def start(self) -> None:
        self.url, self.process = start_redis(self.directory, port=self.port)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def sink():
    server = SmtpSink(free_port())
    server.start()
    yield server
    server.stop()


def order_state(db, order_id: int):
    db.session.rollback()  # a fresh snapshot: the worker commits in another process
    order = db.session.get(Order, order_id)
    mails = list(db.session.scalars(select(OutboxEmail)))
    return order.status, order.worker_id, [(mail.recipient, mail.status) for mail in mails]


def test_a_redis_outage_mid_flow_recovers_by_itself(app, committed_db, private_redis, sink, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", private_redis.url)
    monkeypatch.setitem(
        app.extensions, "mcf_redis", Redis.from_url(private_redis.url, socket_timeout=2, socket_connect_timeout=1)
    )
    client, cat = ClientFactory(), WorkerFactory()
    service = make_service("Outage cleaning")
    committed_db.session.commit()
    env = {
        **os.environ,
        "REDIS_URL": private_redis.url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "SWEEP_INTERVAL_SECONDS": "5",
        "LOG_LEVEL": "INFO",
    }
    worker = WorkerProcess(["--name", f"outage-{os.getpid()}"], env, tmp_path / "worker.log")
    try:
        # Before the outage: an order flows through (matched, its mail sent).
        first = orders.request_order(client, service_type_id=service.id, description="Before", slot_start=next_slot())
        committed_db.session.commit()

        def first_done():
            status, worker_id, mails = order_state(committed_db, first.id)
            return status == OrderStatus.MATCHED and mails and all(s == EmailStatus.SENT for _r, s in mails)

        wait_until(first_done, 60, worker.log, interval=0.5)

        # The outage: Redis goes away with everything queued in it; an order is placed meanwhile.
        private_redis.stop()
        second = orders.request_order(client, service_type_id=service.id, description="During", slot_start=next_slot(2))
        committed_db.session.commit()  # the enqueue after the commit fails and is logged
        time.sleep(OUTAGE_SECONDS)
        assert worker.process.poll() is None, f"the worker died during the outage:\n{worker.log()}"
        assert order_state(committed_db, second.id)[0] == OrderStatus.REQUESTED
        private_redis.start()  # empty: no job survived

        def second_done():
            status, worker_id, mails = order_state(committed_db, second.id)
            recipients = {recipient for recipient, _status in mails}
            return (
                status == OrderStatus.MATCHED
                and worker_id == cat.id
                and {client.email, cat.email} <= recipients
                and all(s == EmailStatus.SENT for _r, s in mails)
            )

        started = time.monotonic()
        wait_until(second_done, RECOVERY_SECONDS, worker.log, interval=0.5)
        print(f"recovered {time.monotonic() - started:.1f} s after Redis came back")
        _status, _worker, mails = order_state(committed_db, second.id)
        assert len(sink.messages) == len(mails), "every outbox message reached the SMTP server"
    finally:
        worker.stop()
