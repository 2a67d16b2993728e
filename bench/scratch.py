"""A Redis database of a benchmark's own, claimed the way test runs claim theirs (tests/support/fixtures.py).

A test run empties its database before each test and then sets its claim again; a database seen
empty in that moment is not free. So a claim is kept only if it is still ours a moment later and
no RQ worker is registered there.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit, urlunsplit

from redis import Redis

KEY = "mcf-test-run"


def claim_redis(url: str) -> tuple[str, Redis]:
    token = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    for number in range(15, 0, -1):
        candidate = urlunsplit(urlsplit(url)._replace(path=f"/{number}"))
        connection = Redis.from_url(candidate)
        if connection.dbsize() != 0 or not connection.set(KEY, token, nx=True, ex=3600):
            continue
        time.sleep(1.0)
        if connection.get(KEY) == token.encode() and not connection.smembers("rq:workers"):
            return candidate, connection
        if connection.get(KEY) == token.encode():
            connection.delete(KEY)
    raise RuntimeError("no free Redis database from 15 to 1 to claim")
