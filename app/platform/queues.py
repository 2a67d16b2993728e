"""Redis and RQ: they only carry work; Postgres stays the source of truth."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

log = logging.getLogger(__name__)

QUEUE_NAMES = ("events", "emails", "billing", "default")


def redis_connection() -> Redis:
    app = current_app._get_current_object()
    connection = app.extensions.get("mcf_redis")
    if connection is None:
        connection = Redis.from_url(app.config["REDIS_URL"], socket_timeout=10, socket_connect_timeout=5)
        app.extensions["mcf_redis"] = connection
    return connection


def get_queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


def enqueue(queue_name: str, func: str, *args, at: datetime | None = None, **options) -> bool:
    """Enqueue a job by dotted path; a Redis failure is logged, not raised (the sweep recovers)."""
    try:
        queue = get_queue(queue_name)
        if at is not None:
            queue.enqueue_at(at, func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
        return True
    except RedisError:
        log.warning("could not enqueue %s%r on %s; the sweep will retry", func, args, queue_name)
        return False


def enqueue_many(queue_name: str, func: str, args_list: list[tuple], batch: int = 500) -> bool:
    """Enqueue one job per argument tuple, pipelined to Redis in batches (logged, not raised, on failure)."""
    try:
        queue = get_queue(queue_name)
        for start in range(0, len(args_list), batch):
            with queue.connection.pipeline() as pipe:
                jobs = [Queue.prepare_data(func, args=args) for args in args_list[start : start + batch]]
                queue.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()
        return True
    except RedisError:
        log.warning("could not enqueue %s jobs of %s on %s; the sweep will retry", len(args_list), func, queue_name)
        return False
