"""Every RQ job runs inside an app context of its own, and commits its own work."""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator

from flask import Flask, current_app, has_app_context

_worker_app: Flask | None = None
_in_job: contextvars.ContextVar[bool] = contextvars.ContextVar("mcf_in_job", default=False)
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
        with _app().app_context(), in_job():
            return fn(*args, **kwargs)

    return run


@contextlib.contextmanager
def in_job() -> Iterator[None]:
    """Mark the code inside as background work (a job body); see `running_in_job`."""
    token = _in_job.set(True)
    try:
        yield
    finally:
        _in_job.reset(token)


def running_in_job() -> bool:
    """True inside a job body: work that must never run in a web request checks this."""
    return _in_job.get()
