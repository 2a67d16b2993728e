"""Scale-out: two web processes and two workers, as two machines would run them, on one PostgreSQL
and one Redis. Clients request orders through both web processes; in the middle, one web process
and one worker are killed with SIGKILL (their whole process groups). The clients carry on through
the surviving web process with the same session cookies, cancel an order each, and at the end
every order, event, handled event, match, kit, mail and ledger entry is there exactly once.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from app.billing.models import LedgerEntry, LedgerTransaction
from app.events.jobs import count_pending
from app.events.models import Event, HandledEvent
from app.events.registry import consumers_of
from app.matching.models import MatchRun
from app.notifications.models import EmailStatus, OutboxEmail
from app.orders.models import Order, OrderStatus
from app.supplies.models import Kit
from scripts.devservices import free_port
from tests.support.browser import ROOT
from tests.support.browser import _stop as stop
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.fixtures import TEST_PASSWORD
from tests.support.orders import make_service
from tests.support.pipeline import SmtpSink, wait_until
from tests.support.supplies import next_slot

pytestmark = pytest.mark.slow

CLIENTS = 6
ORDERS_BEFORE_THE_KILL = 1
ORDERS_AFTER_THE_KILL = 2


class FormFields(HTMLParser):
    """The named inputs (hidden ones included) of the first form that posts to `action` (a form
    without an action posts to its own page)."""

    def __init__(self, action: str, page: str):
        super().__init__()
        self.action = action
        self.page = page
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        target = (attrs.get("action") or self.page).split("?")[0]
        if tag == "form" and not self.done and target.endswith(self.action):
            self.inside = True
        elif tag == "input" and self.inside and attrs.get("name") and attrs.get("type") != "submit":
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside, self.done = False, True


class Browser:
    """A person's HTTP session (cookies) that can be pointed at either web process."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, data=body, timeout=30) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode()

    def submit(self, page: str, action: str, values: dict) -> tuple[int, str, str]:
        """Fetch `page`, take its form's fields (the CSRF token...), fill in `values`, post it."""
        status, _url, html = self.request(page)
        assert status == 200, (page, status)
        parser = FormFields(action, page)
        parser.feed(html)
        assert parser.done or parser.fields, f"no form posting to {action} on {page}"
        return self.request(action, {**parser.fields, **values})


def start(command: list[str], env: dict, log_path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def answers(base_url: str) -> bool:
    try:
        return Browser(base_url).request("/healthz")[0] == 200
    except OSError:  # not listening yet
        return False


def kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture
def two_machines(app, committed_db, database_url, redis_url, tmp_path):
    """Web A, web B, worker A, worker B and an SMTP server; all stopped at the end."""
    sink = SmtpSink(free_port())
    sink.start()
    ports = {"web-a": free_port(), "web-b": free_port()}
    env = {
        **os.environ,
        "MCF_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['web-a']}",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "SWEEP_INTERVAL_SECONDS": "2",
    }
    processes = {}
    for name, port in ports.items():
        command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}"]
        processes[name] = start([*command, "wsgi:app"], env, tmp_path / f"{name}.log")
    for name in ("worker-a", "worker-b"):
        command = [sys.executable, "worker.py", "--name", f"{name}-{os.getpid()}"]
        processes[name] = start(command, env, tmp_path / f"{name}.log")

    def logs() -> str:
        return "\n".join(f"--- {name}\n{(tmp_path / f'{name}.log').read_text()[-3000:]}" for name in processes)

    try:  # the processes are stopped even when they never come up
        for port in ports.values():
            wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}"), 60, logs, interval=0.2)
        yield {
            "urls": {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
            "processes": processes,
            "sink": sink,
            "logs": logs,
        }
    finally:
        for process in processes.values():
            stop(process)
        sink.stop()


def request_an_order(browser: Browser, service_id: int, slot, description: str) -> int:
    status, url, html = browser.submit(
        f"/client/orders/new?service_type={service_id}",
        "/client/orders/new",
        {
            "service_type": str(service_id),
            "day": slot.date().isoformat(),
            "start": f"{slot:%H:%M}",
            "description": description,
            "address": "1 Test Street",
        },
    )
    assert status == 200 and "/client/orders/" in url, (status, url, html[-1500:])
    return int(re.search(r"/client/orders/(\d+)", url).group(1))


def cancel(browser: Browser, order_id: int) -> None:
    page = f"/client/orders/{order_id}"
    status, _url, html = browser.submit(page, f"{page}/cancel", {"reason": "plans changed"})
    assert status == 200 and "yes" in html, "the first submit asks for confirmation"
    status, url, html = browser.submit(page, f"{page}/cancel", {"reason": "plans changed", "confirmed": "yes"})
    assert status == 200 and url.endswith(page), (status, url)


def test_two_webs_and_two_workers_lose_and_double_nothing_when_one_of_each_is_killed(committed_db, two_machines):
    session = committed_db.session
    clients = [ClientFactory(name=f"Client {i}") for i in range(CLIENTS)]
    for i in range(4):
        WorkerFactory(name=f"Cat {i}")
    service = make_service("Scale-out cleaning")
    session.commit()
    emails, service_id = [client.email for client in clients], service.id
    urls = two_machines["urls"]
    browsers = []
    for i, email in enumerate(emails):
        browser = Browser(urls["web-a"] if i % 2 == 0 else urls["web-b"])
        status, url, _html = browser.submit("/login", "/login", {"email": email, "password": TEST_PASSWORD})
        assert status == 200 and "/login" not in url, (status, url)
        browsers.append(browser)

    # Distinct bookable slots (next_slot moves a Sunday to the Monday, hence the dict).
    slots = iter(dict.fromkeys(next_slot(days_ahead=2 + day, hour=hour) for day in range(6) for hour in range(8, 19)))
    requested: dict[int, str] = {}
    for round_ in range(ORDERS_BEFORE_THE_KILL):
        for i, browser in enumerate(browsers):
            description = f"client {i} order {round_}"
            requested[request_an_order(browser, service_id, next(slots), description)] = description

    # In the middle of the flow (matching, mail and kit requests are under way): one machine dies.
    processes = two_machines["processes"]
    kill_group(processes["web-a"])
    kill_group(processes["worker-a"])
    for browser in browsers:  # the load balancer sends everyone to the surviving web process
        browser.base_url = urls["web-b"]
    for round_ in range(ORDERS_BEFORE_THE_KILL, ORDERS_BEFORE_THE_KILL + ORDERS_AFTER_THE_KILL):
        for i, browser in enumerate(browsers):
            description = f"client {i} order {round_}"
            requested[request_an_order(browser, service_id, next(slots), description)] = description
    first_orders = sorted(requested)[:CLIENTS]

    def first_orders_matched():  # the work the killed worker held is picked up by the other one
        session.rollback()
        return all(session.get(Order, order_id).worker_id for order_id in first_orders)

    wait_until(first_orders_matched, 60, two_machines["logs"], interval=0.5)
    for browser, order_id in zip(browsers, first_orders, strict=True):
        cancel(browser, order_id)

    def settled():
        session.rollback()
        statuses = session.scalars(select(Order.status)).all()
        mail = session.scalars(select(OutboxEmail.status)).all()
        return (
            len(statuses) == len(requested)
            and all(status in (OrderStatus.MATCHED, OrderStatus.CANCELLED) for status in statuses)
            and count_pending() == 0
            and mail
            and all(status == EmailStatus.SENT for status in mail)
        )

    wait_until(settled, 120, two_machines["logs"], interval=0.5)

    # Orders: one per request, none lost, none doubled.
    orders = session.scalars(select(Order)).all()
    assert sorted(order.description for order in orders) == sorted(requested.values())
    assert {order.id for order in orders if order.status == OrderStatus.CANCELLED} == set(first_orders)

    # Events: each step of each order once, and each handled once by every consumer of its type.
    events = session.scalars(select(Event).where(Event.aggregate_type == "order")).all()
    steps = Counter((event.aggregate_id, event.type) for event in events)
    assert max(steps.values()) == 1, [step for step, count in steps.items() if count > 1]
    for order in orders:
        assert steps[(str(order.id), "order.requested")] == 1
        assert steps[(str(order.id), "order.matched")] == (1 if order.worker_id else 0)
    handled = Counter(session.execute(select(HandledEvent.consumer, HandledEvent.event_id)).all())
    for event in events:
        for consumer in consumers_of(event.type):
            assert handled[(consumer.name, event.id)] == 1, (consumer.name, event.type)

    # Matching and supplies acted once per order.
    match_runs = Counter(session.scalars(select(MatchRun.order_id)).all())
    assert all(match_runs[order.id] == 1 for order in orders if order.worker_id), match_runs
    kits = session.scalars(select(Kit.order_id)).all()
    assert len(kits) == len(set(kits))

    # Mail: every message queued once, sent, and received by the SMTP server; a message can be
    # received twice only if the killed worker died between the server's answer and its commit
    # (at-least-once delivery), and then with the same Message-ID.
    outbox = session.scalars(select(OutboxEmail)).all()
    sink = two_machines["sink"]
    received = Counter(message.message_id for message in sink.messages)
    assert {row.message_id for row in outbox} == set(received)
    assert sum(count - 1 for count in received.values()) <= 1, received
    for email in emails:
        assert sum(row.template == "order_requested" for row in outbox if row.recipient == email) == 3

    # Ledger: one charge per cancelled order that had a price, and the books balance.
    charges = Counter(
        session.scalars(select(LedgerTransaction.idempotency_key).where(LedgerTransaction.order_id.is_not(None))).all()
    )
    assert max(charges.values(), default=1) == 1
    for order_id in first_orders:  # matched, hence priced, before they were cancelled: US-030
        assert charges[f"order:{order_id}:charge"] == 1
    assert session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))) == 0
    print(f"{len(orders)} orders, {len(events)} order events, {len(outbox)} mails, {sum(charges.values())} charges")
