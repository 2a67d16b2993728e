"""gunicorn's settings, read from the project folder by `gunicorn wsgi:app` (make run, the browser
tests, the benchmarks, production). Command-line flags override them.

Threads, not one request per process: under a flood of slow or numerous requests a sync worker is
held by each one, and two of them starve every real applicant; a gthread worker serves `threads`
requests at once and keeps idle keep-alive connections off its threads. See docs/decisions.md,
"Hiring", for the numbers.
"""

import multiprocessing
import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("WEB_THREADS", 8))  # within SQLAlchemy's pool (5 + 10 overflow) per process
timeout = 30  # a request stuck longer than this is killed with its worker, which is replaced
graceful_timeout = 20
keepalive = 2  # seconds an idle connection may hold a slot: short, so a flood cannot park on them
backlog = 2048
limit_request_line = 4094
limit_request_fields = 60
