"""Fixtures for the reliability tests of the event and email pipeline (US-300).

A real SMTP sink (aiosmtpd) on a free local port, real `worker.py` subprocesses on the test
Redis and database, and an in-process RQ SimpleWorker for the tests that need test-only code
(a consumer registered in the test) to run inside a job."""

from __future__ import annotations

import os

import pytest

from tests.support.pipeline import (
    SmtpSink,
    WorkerProcess,
)


@pytest.fixture
def smtp_sink():
    from scripts.devservices import free_port

    sink = SmtpSink(free_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def workers(committed_db, smtp_sink, tmp_path):
    """Start `worker.py` subprocesses that mail to the sink; every one is stopped at the end.

    Depends on committed_db so the workers are gone before its tables are truncated.
    """
    started: list[WorkerProcess] = []
    env = {**os.environ, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_sink.port), "LOG_LEVEL": "INFO"}

    def start(*queues: str, burst: bool = False) -> WorkerProcess:
        args = [*queues, "--no-cron", "--name", f"us300-{len(started)}-{os.getpid()}"]
        if burst:
            args.append("--burst")
        worker = WorkerProcess(args, env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    start.logs = lambda: "\n".join(f"--- worker {worker.args}\n{worker.log()}" for worker in started)
    try:
        yield start
    finally:
        for worker in started:  # all at once: each takes a moment to stop its scheduler
            worker.request_stop()
        for worker in started:
            worker.stop()


@pytest.fixture
def run_burst(workers):
    """Run `worker.py --burst` on some queues until they are empty; fail on a non-zero exit."""

    def run(*queues: str) -> None:
        worker = workers(*queues, burst=True)
        code = worker.wait()
        assert code == 0, worker.log()

    return run


@pytest.fixture
def simple_worker(app):
    """Run an in-process RQ SimpleWorker in burst mode (due scheduled jobs are moved first)."""
    from rq import SimpleWorker

    from app.platform.queues import QUEUE_NAMES, get_queue, redis_connection

    def run(*queues: str) -> None:
        with app.app_context():
            names = queues or QUEUE_NAMES
            worker = SimpleWorker([get_queue(name) for name in names], connection=redis_connection())
            worker.work(burst=True, with_scheduler=True, logging_level="WARNING")

    return run
