"""Health and readiness: /healthz 503 and a static 503 page when PostgreSQL is down; /readyz checks
PostgreSQL, Redis and a live worker. Outages are simulated by pointing an app at a closed port; the
shared servers are never touched."""

from __future__ import annotations

import socket

import pytest
from redis import Redis
from rq import Worker

from app import create_app
from app.config import TestConfig, sqlalchemy_url
from tests.support.fixtures import isolated_client


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_worker(redis_url):
    """A worker registered in Redis with a fresh heartbeat, as a running `worker.py` keeps it."""
    worker = Worker(["default"], connection=Redis.from_url(redis_url), name="health-probe")
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()


def test_healthz_and_readyz_when_everything_is_up(client, db, live_worker):
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok", "worker": "1 alive"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_without_a_live_worker_is_503(client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["worker"] == "no live worker"


def test_readyz_with_redis_down_is_503_and_healthz_stays_200(database_url, app, db):
    down = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url),
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
    )
    client = isolated_client(down)
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok" and checks["redis"].startswith("unreachable")


def _session_for(app, user_id: str, user_agent: str) -> dict:
    from flask_login.utils import _create_identifier

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": user_agent}):
        return {"_user_id": user_id, "_fresh": True, "_id": _create_identifier(), "sid": "token"}


def test_with_postgresql_down_pages_get_a_static_503_and_healthz_503(app, redis_url):
    """(No `db` fixture here: it would bind every session to the test's own connection.)"""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/mcf"
    down = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, REDIS_URL=redis_url)
    client = isolated_client(down)

    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"].startswith("unreachable")

    with client.session_transaction() as session:  # a signed-in manager's session: loading it needs the database
        session.update(_session_for(down, "1:0", "browser"))
    page = client.get("/manage/", headers={"User-Agent": "browser"})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    assert "MCF is unavailable" in page.get_data(as_text=True)
    assert client.get("/api/v1/workers", headers={"Authorization": "Bearer x"}).status_code == 503
