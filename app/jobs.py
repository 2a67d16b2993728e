"""Every RQ job runs inside an app context of its own, and commits its own work."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, current_app, has_app_context

_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def _app() -> Flask:
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    return _worker_app


def job(fn: Callable) -> Callable:
    """Run the job in a fresh app context (a fresh database session), and clean it up after."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with _app().app_context():
            return fn(*args, **kwargs)

    return run
