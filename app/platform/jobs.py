"""Every RQ job runs inside an app context of its own, and commits its own work."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, current_app, has_app_context

_worker_app: Flask | None = None
_app_factory: Callable[[], Flask] | None = None


def set_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def set_app_factory(factory: Callable[[], Flask]) -> None:
    """How a process that runs jobs without an app of its own builds one (create_app sets it)."""
    global _app_factory
    _app_factory = factory


def _app() -> Flask:
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        if _app_factory is None:
            raise RuntimeError("no app to run jobs in: start workers with worker.py")
        _worker_app = _app_factory()
    return _worker_app


def job(fn: Callable) -> Callable:
    """Run the job in a fresh app context (a fresh database session), and clean it up after."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with _app().app_context():
            return fn(*args, **kwargs)

    return run
