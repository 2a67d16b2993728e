"""Benchmark: match one order against 1,000 workers with 100,000 past orders (US-060..073).

Not a test. It creates a scratch database on DATABASE_URL's server (default: the local
postgres), migrates it, fills it with set-based INSERT ... SELECT generate_series, and times the
default pipeline (the steps the migration seeds):

- rank: the pipeline alone (built-in steps: one statement that ranks every worker from the kept
  per-worker figures; a pipeline with an external step: the samples and each step in turn);
- match: what the consumer does (row lock, rank, record the MatchRun with every candidate's
  scores, assign the worker with the price, publish order.matched), rolled back after each run.

Each is measured RUNS times; it prints median and p95 in ms, and ratios against two baselines
measured in the same run on the same database: a trivial single query (SELECT 1 through the same
session) and the same matching with only 10 active workers (their ~1,000 orders). The scratch
database is dropped at the end, whatever happens.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/matching_bench.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.summary import print_table, summary_row

os.environ.setdefault("MCF_ENV", "test")

WORKERS = int(os.environ.get("BENCH_WORKERS", 1000))
ORDERS = int(os.environ.get("BENCH_ORDERS", 100_000))
CLIENTS = 2000
SMALL_WORKERS = 10
RUNS = int(os.environ.get("BENCH_RUNS", 50))
WARMUP = 5

FILL = """
INSERT INTO service_types (name, description, base_price_cents, duration_minutes, skills, consumables, created_at)
VALUES ('Sofa cleaning', '', 10000, 120, ARRAY['cleaning', 'sofas'], ARRAY['sponge'], now());

INSERT INTO users (email, name, active, session_version, created_at)
SELECT 'worker' || n || '@bench.example', 'Worker ' || n, true, 0, now() FROM generate_series(1, %(workers)s) AS n;
INSERT INTO user_roles (user_id, role) SELECT id, 'worker' FROM users;
INSERT INTO worker_profiles (user_id, age, breed, coat_colour, strengths, weaknesses)
SELECT id, id %% 20, 'Tabby', 'grey',
       CASE id %% 4 WHEN 0 THEN ARRAY['cleaning'] WHEN 1 THEN ARRAY['sofas', 'cooking']
                    WHEN 2 THEN ARRAY['garden'] ELSE ARRAY['cleaning', 'sofas'] END::varchar[],
       CASE id %% 3 WHEN 0 THEN ARRAY[]::text[] WHEN 1 THEN ARRAY['cleaning'] ELSE ARRAY['baths'] END::varchar[]
FROM users;

INSERT INTO users (email, name, active, session_version, created_at)
SELECT 'client' || n || '@bench.example', 'Client ' || n, true, 0, now() FROM generate_series(1, %(clients)s) AS n;
INSERT INTO user_roles (user_id, role) SELECT id, 'client' FROM users WHERE email LIKE 'client%%';
INSERT INTO client_profiles (user_id, address, payment_method)
SELECT id, n || ' Bench Street', 'card'
FROM (SELECT id, row_number() OVER () AS n FROM users WHERE email LIKE 'client%%') AS c;

-- 100,000 orders: most in the past (completed, failed, cancelled), some upcoming (matched, kit issued).
INSERT INTO orders (client_id, worker_id, service_type_id, description, address, slot_start, slot_end, status,
                    base_price_cents, discount_percent, price_cents, created_at, finish_reason)
SELECT %(workers)s + 1 + (n::bigint * 7919) %% %(clients)s,
       1 + (n::bigint * 104729) %% %(workers)s,
       (SELECT id FROM service_types LIMIT 1),
       'Bench order ' || n, n || ' Bench Street',
       slot, slot + interval '2 hours',
       CASE WHEN slot > now() THEN (ARRAY['matched', 'kit_issued'])[n %% 2 + 1]
            ELSE (ARRAY['completed', 'completed', 'completed', 'completed', 'completed', 'completed',
                        'failed', 'cancelled'])[n %% 8 + 1] END,
       10000, 0, 10000, slot - interval '3 days', ''
FROM (SELECT n, date_trunc('hour', now()) - interval '365 days' + (n %% 379) * interval '1 day'
                + (8 + n %% 10) * interval '1 hour' AS slot
      FROM generate_series(1, %(orders)s) AS n) s;
"""


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(label: str, function, runs: int = RUNS) -> dict:
    for _ in range(WARMUP):
        function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    result = {"label": label, "median": statistics.median(samples), "p95": percentile(samples, 0.95)}
    print(f"  {label:<44} median {result['median']:8.2f} ms   p95 {result['p95']:8.2f} ms")
    return result


def main() -> None:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mcf_bench_matching_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(with_database(server, name))
    finally:
        from app.extensions import db

        try:
            db.engine.dispose()
        except Exception:
            pass
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped the scratch database {name}")


def run(url: str) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app import create_app
    from app.config import TestConfig, sqlalchemy_url
    from app.extensions import db
    from app.matching.pipeline import rank
    from app.matching.services import match_order
    from app.orders.models import Order

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(url))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(statement, {"workers": WORKERS, "clients": CLIENTS, "orders": ORDERS})
            conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: visibility map set
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM user_roles WHERE role = 'worker'), (SELECT count(*) FROM orders)"
            ).fetchone()
        print(f"filled {counts[0]:,} workers and {counts[1]:,} orders in {time.perf_counter() - started:.1f} s")

        # The order to match: requested, next week at 10:00 UTC.
        slot = (datetime.now(UTC) + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
        order_id = db.session.execute(
            text(
                "INSERT INTO orders (client_id, service_type_id, description, address, slot_start, slot_end, status,"
                " created_at, finish_reason) SELECT :client, id, 'Bench', '1 Bench Street', :slot,"
                " :slot + interval '2 hours', 'requested', now(), '' FROM service_types LIMIT 1 RETURNING id"
            ),
            {"client": WORKERS + 1, "slot": slot},
        ).scalar_one()
        db.session.commit()
        steps = [step["step"] for step in rank(db.session.get(Order, order_id)).steps]
        db.session.rollback()
        print(f"pipeline: {', '.join(steps)}; {RUNS} runs each after {WARMUP} warm-up runs")

        def trivial() -> None:
            db.session.execute(select(1)).scalar_one()
            db.session.rollback()

        step_ms: dict[str, list[float]] = {}

        def ranking() -> None:
            result = rank(db.session.get(Order, order_id))
            assert result.chosen is not None
            for step in result.steps:
                # Built-in steps are columns of one statement (app/matching/ranking_sql.py): one time for all.
                name = "one SQL statement for every step" if step.get("shared_ms") else step["step"]
                step_ms.setdefault(name, []).append(step["ms"])
                if step.get("shared_ms"):
                    break
            db.session.rollback()

        def show_steps() -> None:
            print(
                "    per step (median ms): " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in step_ms.items())
            )
            step_ms.clear()

        def matching() -> None:
            run = match_order(db.session.get(Order, order_id))
            assert run is not None and run.chosen_worker_id is not None
            db.session.rollback()

        print(f"with {WORKERS:,} active workers and {ORDERS:,} orders:")
        base = measure("trivial query (SELECT 1, the baseline)", trivial)
        big_rank = measure(f"rank, {WORKERS:,} workers", ranking)
        show_steps()
        big_match = measure(f"match (rank + record + assign), {WORKERS:,} workers", matching)

        db.session.execute(
            text(
                "UPDATE users SET active = false WHERE id IN (SELECT user_id FROM user_roles WHERE role = 'worker')"
                " AND id > :keep"
            ),
            {"keep": SMALL_WORKERS},
        )
        db.session.commit()
        small_orders = db.session.scalar(
            text("SELECT count(*) FROM orders WHERE worker_id <= :keep"), {"keep": SMALL_WORKERS}
        )
        print(f"with {SMALL_WORKERS} active workers ({small_orders:,} orders of theirs):")
        small_rank = measure(f"rank, {SMALL_WORKERS} workers", ranking)
        show_steps()
        small_match = measure(f"match, {SMALL_WORKERS} workers", matching)

        print("ratios (median / median, p95 / p95):")
        for big, small in ((big_rank, small_rank), (big_match, small_match)):
            print(
                f"  {big['label']:<44} x{big['median'] / base['median']:7.1f} / x{big['p95'] / base['p95']:7.1f}"
                f" vs SELECT 1;  x{big['median'] / small['median']:5.1f} / x{big['p95'] / small['p95']:5.1f}"
                f" vs {SMALL_WORKERS} workers"
            )
        for big, small in ((big_rank, small_rank), (big_match, small_match)):
            summary_row(
                f"{big['label']}, {ORDERS:,} orders, p95",
                big["p95"],
                "ms",
                baseline=small["p95"],
                baseline_label=f"same with {SMALL_WORKERS} workers",
                goal="match p95 < 50 ms (1,000 workers, 100k orders)" if big is big_match else "",
                ok=(big["p95"] < 50) if big is big_match and WORKERS >= 1000 and ORDERS >= 100_000 else None,
            )
        db.session.remove()


if __name__ == "__main__":
    main()
    print_table("matching")
