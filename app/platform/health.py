"""What a load balancer and an orchestrator ask: is the database up, is the stack ready.

Each check is quick (short timeouts), answers (ok, detail) and never raises.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from redis import Redis
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2


def check_database() -> tuple[bool, str]:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SET LOCAL statement_timeout = 2000"))
            connection.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:  # any failure means "not ready", with its kind for the operator
        log.warning("health: database check failed: %s", exc.__class__.__name__)
        return False, f"unreachable ({exc.__class__.__name__})"


def _redis() -> Redis:
    return Redis.from_url(
        current_app.config["REDIS_URL"],
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
    )


def check_redis() -> tuple[bool, str]:
    try:
        _redis().ping()
        return True, "ok"
    except Exception as exc:
        log.warning("health: redis check failed: %s", exc.__class__.__name__)
        return False, f"unreachable ({exc.__class__.__name__})"


def live_workers(connection: Redis | None = None) -> list[dict]:
    """RQ workers registered in Redis whose heartbeat is recent (a dead one's key expires)."""
    from rq import Worker

    connection = connection or _redis()
    limit = current_app.config["READY_WORKER_HEARTBEAT_SECONDS"]
    now = datetime.now(UTC)
    workers = []
    for worker in Worker.all(connection=connection):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        if beat is not None and (now - beat).total_seconds() <= limit:
            workers.append({"name": worker.name, "state": str(worker.get_state()), "last_heartbeat": beat.isoformat()})
    return workers


def check_worker() -> tuple[bool, str]:
    try:
        alive = live_workers()
    except Exception as exc:
        return False, f"unknown ({exc.__class__.__name__})"
    return (True, f"{len(alive)} alive") if alive else (False, "no live worker")


def readiness() -> tuple[bool, dict[str, str]]:
    checks = {"database": check_database(), "redis": check_redis()}
    checks["worker"] = check_worker() if checks["redis"][0] else (False, "unknown (redis unreachable)")
    return all(ok for ok, _ in checks.values()), {name: detail for name, (_ok, detail) in checks.items()}
