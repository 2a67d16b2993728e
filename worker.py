"""The RQ worker, with RQ's scheduler (for retries at a time) and the periodic-job cron.

    python worker.py                 # all queues: events, emails, billing, default
    python worker.py emails          # only some queues
    python worker.py --burst         # work until the queues are empty, then exit (tests)
    python worker.py --no-cron       # run more workers, but only one cron per deployment is needed

Periodic jobs are registered in app/platform/schedule.py. Every job runs in its own app context.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os

from rq import Worker
from rq.cron import CronScheduler

from app import create_app
from app.extensions import db
from app.platform.jobs import set_worker_app
from app.platform.queues import QUEUE_NAMES, redis_connection
from app.platform.schedule import register_periodic_jobs

log = logging.getLogger("mcf.worker")


def run_cron(app) -> None:
    with app.app_context():
        cron = CronScheduler(connection=redis_connection(), name=f"mcf-cron-{os.getpid()}")
        register_periodic_jobs(cron, app)
        cron.start()


def main() -> None:
    parser = argparse.ArgumentParser(description="MCF background worker")
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--no-cron", action="store_true", help="do not run the periodic jobs here")
    parser.add_argument("--name", default=None)
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
        worker = Worker(args.queues, connection=connection, name=args.name)
        worker.work(with_scheduler=True, burst=args.burst, logging_level="INFO")
    finally:
        if cron_process is not None and cron_process.is_alive():
            cron_process.terminate()
            cron_process.join(5)


if __name__ == "__main__":
    main()
