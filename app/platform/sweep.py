"""The periodic sweep: Postgres is the truth, so whatever is pending there is enqueued again.

This is what makes a Redis flush, a lost enqueue or a killed worker harmless. Each domain that
hands work to Redis registers a sweeper: a read-only query that returns the jobs to enqueue again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.platform.jobs import job
from app.platform.queues import enqueue
from app.platform.schedule import every

log = logging.getLogger(__name__)

# (queue, dotted job path, args) for each job a sweeper wants enqueued again.
Requeue = tuple[str, str, tuple]
sweepers: dict[str, Callable[[timedelta], list[Requeue]]] = {}


def sweeper(name: str) -> Callable:
    """Register a sweeper: `fn(older_than) -> [(queue, job path, args), ...]`, read-only."""

    def register(fn: Callable[[timedelta], list[Requeue]]) -> Callable:
        sweepers[name] = fn
        return fn

    return register


@every("SWEEP_INTERVAL_SECONDS", name="sweep")
@job
def sweep() -> dict[str, int]:
    older_than = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    found = {name: find(older_than) for name, find in sweepers.items()}
    db.session.rollback()  # read-only: end the transaction before talking to Redis
    for requeues in found.values():
        for queue, func, args in requeues:
            enqueue(queue, func, *args)
    counts = {name: len(requeues) for name, requeues in found.items()}
    if any(counts.values()):
        log.info("sweep re-enqueued %s", ", ".join(f"{count} {name}" for name, count in counts.items() if count))
    return counts
