"""A cheap answer to a flood of sign-in attempts, in front of the whole application.

An address whose sign-in was just refused with a 429 by the login limits (not by the budget of
password checks, which everyone shares) gets a static 429 for its next sign-in attempts during
`LOGIN_GATE_SECONDS`, without a session, a template, Redis or the database: a flood of refused
attempts then costs the server little more than its connections. The limits themselves stay
where they are (Redis, per account and address); this only remembers their answer for a moment,
per process. Other pages from that address are not affected.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "static" / "errors" / "429.html"
# Set by a 429 that is not about the address (the process's budget of password checks, shared by
# everyone): the gate then remembers nothing, and the header does not leave the server.
NOT_THIS_ADDRESS = "X-MCF-Refusal-Not-This-Address"
MAX_ADDRESSES = 10_000  # the oldest are forgotten first: memory stays bounded under any flood


class LoginGate:
    def __init__(self, wsgi_app: Callable, seconds: float, path: str = "/login"):
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        self.path = path
        self.page = PAGE.read_bytes()
        self._refused_until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def refused(self, address: str) -> float:
        """Seconds left before this address may try again (0 if it may)."""
        with self._lock:
            until = self._refused_until.get(address)
            if until is None:
                return 0.0
            left = until - time.monotonic()
            if left <= 0:
                del self._refused_until[address]
                return 0.0
            return left

    def remember(self, address: str) -> None:
        with self._lock:
            self._refused_until[address] = time.monotonic() + self.seconds
            self._refused_until.move_to_end(address)
            while len(self._refused_until) > MAX_ADDRESSES:
                self._refused_until.popitem(last=False)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
            return self.wsgi_app(environ, start_response)
        address = environ.get("REMOTE_ADDR", "")
        left = self.refused(address)
        if left:
            start_response(
                "429 Too Many Requests",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(self.page))),
                    ("Retry-After", str(max(1, round(left)))),
                    ("Cache-Control", "no-store"),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'"),
                ],
            )
            return [self.page]

        def watch(status: str, headers, exc_info=None):
            if status.startswith("429"):
                if any(name == NOT_THIS_ADDRESS for name, _value in headers):
                    headers = [(name, value) for name, value in headers if name != NOT_THIS_ADDRESS]
                else:
                    self.remember(address)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, watch)
