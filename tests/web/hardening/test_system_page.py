"""Operators: /manage/system for managers and /metrics (Prometheus) with the same figures, the
latter for a token or an allowed address only."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis
from rq import Worker

from app.events import publish
from app.notifications.models import EmailStatus, OutboxEmail
from app.notifications.services import next_sequence
from tests.support.factories import ManagerFactory, WorkerFactory
from tests.support.fixtures import login
from tests.support.web import config_values


def dead_letter(db, recipient="dead@example.com"):
    db.session.add(
        OutboxEmail(
            idempotency_key=uuid.uuid4().hex,
            recipient=recipient,
            sequence=next_sequence(recipient),
            template="t",
            subject="s",
            body_text="b",
            body_html="b",
            message_id=f"<{uuid.uuid4().hex}@x>",
            status=EmailStatus.DEAD,
        )
    )
    db.session.flush()


@pytest.fixture
def live_worker(redis_url):
    worker = Worker(["default"], connection=Redis.from_url(redis_url), name="system-probe")
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()


def test_managers_see_queues_workers_events_outbox_and_runs(client, db, live_worker):
    login(client, ManagerFactory())
    dead_letter(db)
    publish("account.worker_created", "user", "1", {"user_id": 1})
    page = client.get("/manage/system")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "system-probe" in html and "Queue events" in html
    assert '<a href="/manage/outbox?status=dead">1</a>' in html
    assert "notifications" in html and "No run yet." in html


def test_other_roles_cannot_see_the_system_page(client, db):
    login(client, WorkerFactory())
    assert client.get("/manage/system").status_code == 403


def test_metrics_in_prometheus_format_for_an_allowed_address(client, db, live_worker):
    dead_letter(db)
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert "mcf_workers_alive 1.0" in text
    assert 'mcf_outbox_messages{status="dead"} 1.0' in text
    assert 'mcf_queue_length{queue="events"}' in text and "mcf_redis_up 1.0" in text


def test_metrics_refused_elsewhere_unless_the_token_is_given(app, client, db):
    with config_values(app, METRICS_TOKEN="s3cret-metrics-token", METRICS_ALLOWED_ADDRESSES="10.9.9.9"):
        assert client.get("/metrics").status_code == 403
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
        assert right.status_code == 200 and b"mcf_outbox_messages" in right.data
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200
