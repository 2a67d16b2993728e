"""US-170 with a webhook: the contractor's endpoint is a real HTTP server on 127.0.0.1. The request
is posted by an RQ job after the commit, retried with backoff after a failure, idempotent per
order (one Idempotency-Key for every attempt), and the sweep picks up what is still pending."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.extensions import db
from app.supplies.models import CookieRequest
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.supplies import deliver_through_rq, make_service, matched_order, run_jobs
from tests.support.web import config_values


class Contractor:
    """A webhook endpoint that answers with the statuses it is told, then 200; records every request."""

    def __init__(self):
        self.answers: list[int] = []
        self.received: list[dict] = []
        contractor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                contractor.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                status = contractor.answers.pop(0) if contractor.answers else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "busy"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cookies"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def contractor():
    with Contractor() as endpoint:
        yield endpoint


@pytest.fixture
def webhook_config(app, contractor):
    with config_values(
        app,
        COOKIE_CONTRACTOR_WEBHOOK_URL=contractor.url,
        COOKIE_WEBHOOK_RETRY_BASE_SECONDS=0.2,
        COOKIE_WEBHOOK_RETRY_MAX_SECONDS=0.5,
        COOKIE_WEBHOOK_TIMEOUT_SECONDS=5,
    ):
        yield


@pytest.fixture
def order(app, committed_db, webhook_config):
    order = matched_order(ClientFactory(name="Clara Client"), make_service(), WorkerFactory())
    committed_db.session.commit()
    return order


def cookie_of(order_id: int) -> CookieRequest:
    db.session.rollback()  # a fresh snapshot: the jobs committed in their own sessions
    return db.session.get(CookieRequest, order_id)


def wait_until_due(cookie: CookieRequest) -> None:
    from app.platform.clock import utcnow

    delay = (cookie.next_attempt_at - utcnow()).total_seconds()
    time.sleep(max(0.0, delay) + 0.05)


def test_us170_webhook_fails_then_succeeds_with_backoff(app, order, contractor):
    contractor.answers = [503]
    deliver_through_rq(app, order.id, consumers=("supplies",))
    run_jobs(app, "default")  # the job enqueued after the consumer's commit: the contractor says 503

    cookie = cookie_of(order.id)
    assert (cookie.channel, cookie.status, cookie.attempts) == ("webhook", "pending", 1)
    assert "503" in cookie.last_error
    assert cookie.next_attempt_at > cookie.created_at

    wait_until_due(cookie)
    run_jobs(app, "default")  # the scheduled retry

    cookie = cookie_of(order.id)
    assert (cookie.status, cookie.attempts, cookie.last_error) == ("sent", 2, "")
    assert cookie.sent_at is not None
    assert len(contractor.received) == 2
    keys = {request["headers"]["Idempotency-Key"] for request in contractor.received}
    assert keys == {f"mcf-cookie-order-{order.id}"}, "every attempt carries the same key"
    body = contractor.received[-1]["body"]
    assert body["order_id"] == order.id
    assert body["client_name"] == "Clara Client"
    assert body["address"] == order.address
    assert body["slot_start"] == order.slot_start.isoformat()
    assert contractor.received[0]["headers"]["Content-Type"] == "application/json"

    run_jobs(app, "default")  # nothing left: a sent request is never posted again
    assert len(contractor.received) == 2


def test_us170_unreachable_contractor_is_recorded_and_the_sweep_picks_it_up(app, order, contractor):
    from app.platform.queues import enqueue, get_queue

    with config_values(app, COOKIE_CONTRACTOR_WEBHOOK_URL="http://127.0.0.1:9/closed"):
        deliver_through_rq(app, order.id, consumers=("supplies",))
        run_jobs(app, "default")
    cookie = cookie_of(order.id)
    assert (cookie.status, cookie.attempts) == ("pending", 1)
    assert cookie.last_error

    # The scheduled retry is lost (a Redis flush): only the sweep can bring it back.
    with app.app_context():
        get_queue("default").empty()
        from rq.registry import ScheduledJobRegistry

        registry = ScheduledJobRegistry(queue=get_queue("default"))
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    wait_until_due(cookie)
    with app.app_context():
        enqueue("default", "app.platform.sweep.sweep")
    run_jobs(app, "default")  # the sweep enqueues the due request; the same burst posts it

    cookie = cookie_of(order.id)
    assert (cookie.status, cookie.attempts) == ("sent", 2)
    assert len(contractor.received) == 1


def test_us170_duplicate_jobs_post_once(app, order, contractor):
    from app.supplies.services import enqueue_webhook

    deliver_through_rq(app, order.id, consumers=("supplies",))
    with app.app_context():
        enqueue_webhook(order.id)
        enqueue_webhook(order.id)
    run_jobs(app, "default")

    assert cookie_of(order.id).status == "sent"
    assert len(contractor.received) == 1
