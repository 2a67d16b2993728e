"""The RQ worker, with RQ's scheduler (for retries at a time) and the periodic-job cron.

    python worker.py                 # all queues: events, emails, billing, default
    python worker.py emails          # only some queues
    python worker.py --burst         # work until the queues are empty, then exit (tests)
    python worker.py --no-cron       # run more workers, but only one cron per deployment is needed
    python worker.py --fork          # each job in a forked work horse (RQ's default), not inline

Periodic jobs are registered in app/platform/schedule.py. Every job runs in its own app context.

A Redis or PostgreSQL outage stops nothing for good: the worker loop and the cron start again by
themselves with backoff (1 s doubling to 30 s) once the servers answer, and the sweep then
re-enqueues everything pending from PostgreSQL.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import time

from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.extensions import db
from app.platform.jobs import set_worker_app
from app.platform.queues import QUEUE_NAMES, redis_connection
from app.platform.schedule import register_periodic_jobs

log = logging.getLogger("mcf.worker")


MAX_BACKOFF_SECONDS = 30
OUTAGES = (RedisError, SQLAlchemyError, OSError)


def backoff(attempt: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2 ** min(attempt, 5)))


def run_cron(app) -> None:
    """The periodic jobs; rides out an outage (RQ's CronScheduler quits on the first Redis error)."""
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            with app.app_context():
                cron = CronScheduler(connection=redis_connection(), name=f"mcf-cron-{os.getpid()}-{attempt}")
                register_periodic_jobs(cron, app)
                cron.start()  # returns when asked to stop (SIGTERM/SIGINT)
            return
        except StopRequested:
            return
        except OUTAGES as exc:
            attempt = 0 if time.monotonic() - started > 60 else attempt + 1
            delay = backoff(attempt)
            log.warning("cron stopped by %s: %s; starting again in %.0f s", type(exc).__name__, exc, delay)
            try:
                time.sleep(delay)
            except StopRequested:
                return


def work(args, connection) -> None:
    """RQ's work loop, started again with backoff when it quits on an outage (not when asked to stop)."""
    attempt = 0
    base_name = args.name or f"mcf-worker-{os.getpid()}"
    restarts = 0
    while True:
        started = time.monotonic()
        worker = None
        try:
            worker_class = Worker if args.fork else SimpleWorker
            worker = worker_class(
                args.queues, connection=connection, name=base_name if not restarts else f"{base_name}.{restarts}"
            )
            worker.work(with_scheduler=True, burst=args.burst, logging_level="INFO")
        except OUTAGES as exc:
            log.warning("worker stopped by %s: %s", type(exc).__name__, exc)
        if args.burst or (worker is not None and getattr(worker, "_stop_requested", False)):
            return
        attempt = 0 if time.monotonic() - started > 60 else attempt + 1
        restarts += 1
        delay = backoff(attempt)
        log.warning("worker loop ended without a stop request; starting again in %.0f s", delay)
        signal.signal(signal.SIGTERM, _stop_now)  # RQ's handlers are not for this pause
        signal.signal(signal.SIGINT, _stop_now)
        time.sleep(delay)


def _stop_now(signum, frame):
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description="MCF background worker")
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--no-cron", action="store_true", help="do not run the periodic jobs here")
    parser.add_argument("--name", default=None)
    parser.add_argument(
        "--fork",
        action="store_true",
        default=os.environ.get("WORKER_FORK", "") not in ("", "0", "false"),
        help="run each job in a forked work horse (slower; isolates a job that crashes the interpreter)",
    )
    args = parser.parse_args()

    # A worker always really sends: Flask-Mail suppresses sending when TESTING is set, which would
    # mark outbox mail sent that never left (worker subprocesses of the test suite run MCF_ENV=test).
    app = create_app(MAIL_SUPPRESS_SEND=False)
    set_worker_app(app)
    with app.app_context():
        connection = redis_connection()
        engine = db.engine
    # Each job runs in a forked work horse: it must not reuse the parent's database connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))

    cron_process = None
    if not args.burst and not args.no_cron:
        cron_process = multiprocessing.get_context("fork").Process(target=run_cron, args=(app,), daemon=True)
        cron_process.start()
    try:
        work(args, connection)
    finally:
        if cron_process is not None and cron_process.is_alive():
            cron_process.terminate()
            cron_process.join(5)


if __name__ == "__main__":
    main()
