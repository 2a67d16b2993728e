"""Benchmark: the weekly client run and the monthly worker run (US-220, US-230) at two data sizes.

Not a test. For each size it creates a scratch database on DATABASE_URL's server (default: the
local postgres), migrates it, and fills it set-based (INSERT ... SELECT generate_series):
10,000 clients, 1,000 workers, ORDERS orders spread over February 2021 (which is exactly four
weeks, Monday the 1st to Monday 1 March), 80% completed, 10% cancelled, 10% failed, and their
ledger as the billing consumer would have posted it: a charge for every order, an earning (60%)
for every completed one and a fine for every failed one, two balanced entries each. The balance
trigger is off during the fill only (one session, `session_replication_role = replica`); the fill
is checked to balance afterwards.

The steady state a weekly run meets is filled in too: the first three weeks were billed and paid
by earlier runs (their invoices, invoice items and payment transactions, set-based), so the weekly
run bills the last week (every client) and the monthly run bills February (every worker).

Then, with the sandbox provider and `now` = Monday 1 March 2021 12:00 UTC, it times:

- baselines over the same data, in the same run: COUNT(*) of the entries, and one GROUP BY over
  all entries (a sum per account: the least a set-based pass over the whole ledger costs);
- the daily close of the month's 28 days (`close_due_days`), which the runs require;
- each run as a manager starts it (`runs.start_run`, then the job body `runs.execute`), and its two
  parts, timed by wrapping the functions the run calls: the invoices (`runs.create_invoices`: one
  set-based INSERT ... SELECT per period, plus the "invoice issued" email of each client invoice)
  and the payments (`payments.settle`, one provider call and its commits per invoice).

It does this for 100,000 and for 1,000,000 orders (BENCH_SIZES="100000,1000000"), each in a
database of its own, dropped at the end whatever happens, and prints each figure with the
ratio 1M / 100k next to the 10x growth of the data. The runs' email jobs go to a Redis database
claimed for the run (as the tests claim one) and emptied at the end: nothing is sent. About
15-20 minutes in all, most of it the per-invoice payments.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/billing_bench.py
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch import claim_redis
from bench.summary import print_table, summary_row

os.environ.setdefault("MCF_ENV", "test")

CLIENTS = int(os.environ.get("BENCH_CLIENTS", 10_000))
WORKERS = int(os.environ.get("BENCH_WORKERS", 1_000))
SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "100000,1000000").split(",")]
# The sandbox answers after this many seconds: a real provider's latency (the goal is set at 0.2).
DELAY = float(os.environ.get("BENCH_PROVIDER_DELAY", 0.2))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", 64))
MONTH_START = datetime(2021, 2, 1, tzinfo=UTC)  # a Monday; February 2021 is exactly four weeks
NOW = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)  # the Monday after: four closed weeks, one closed month
LAST_WEEK = datetime(2021, 2, 22, tzinfo=UTC)  # the week the weekly run bills (the earlier ones are billed)
PRICE_CENTS = 100_00
EARNING_CENTS = 60_00
FINE_CENTS = 40_00

FILL = """
INSERT INTO service_types (name, description, base_price_cents, duration_minutes, skills, consumables, created_at)
VALUES ('House cleaning', '', %(price)s, 120, ARRAY['cleaning'], ARRAY['Job acceptance form'], now());

INSERT INTO users (email, name, active, session_version, created_at)
SELECT 'client' || g || '@bench.example', 'Client ' || g, true, 0, now() FROM generate_series(1, %(clients)s) g;
INSERT INTO users (email, name, active, session_version, created_at)
SELECT 'worker' || g || '@bench.example', 'Worker ' || g, true, 0, now() FROM generate_series(1, %(workers)s) g;
INSERT INTO users (email, name, active, session_version, created_at)
VALUES ('manager@bench.example', 'Bench Manager', true, 0, now());
INSERT INTO user_roles (user_id, role)
SELECT id, CASE WHEN email LIKE 'client%%' THEN 'client' WHEN email LIKE 'worker%%' THEN 'worker' ELSE 'manager' END
FROM users;
INSERT INTO client_profiles (user_id, address, payment_method)
SELECT id, id || ' Bench Street', 'card' FROM users WHERE email LIKE 'client%%';
INSERT INTO worker_profiles (user_id, age, breed, coat_colour, strengths, weaknesses)
SELECT id, 1 + id %% 15, 'Tabby', 'grey', ARRAY['cleaning'], ARRAY[]::varchar[] FROM users WHERE email LIKE 'worker%%';

-- The orders: spread over the month's 28 days, 08:00 to 17:00 UTC.
INSERT INTO orders (client_id, worker_id, service_type_id, description, address, slot_start, slot_end, status,
                    base_price_cents, discount_percent, price_cents, created_at, finished_at, finish_reason)
SELECT c.first + (g::bigint * 7919) %% %(clients)s,
       w.first + (g::bigint * 104729) %% %(workers)s,
       (SELECT min(id) FROM service_types), 'Bench order', 'Bench Street',
       slot, slot + interval '2 hours',
       CASE WHEN g %% 10 = 8 THEN 'cancelled' WHEN g %% 10 = 9 THEN 'failed' ELSE 'completed' END,
       %(price)s, 0, %(price)s, slot - interval '3 days', slot + interval '2 hours',
       CASE WHEN g %% 10 = 9 THEN 'no_show' ELSE '' END
FROM generate_series(1, %(orders)s) g
CROSS JOIN LATERAL (SELECT %(month)s::timestamptz + (g %% 28) * interval '1 day'
                           + (8 + g %% 10) * interval '1 hour' AS slot) s
CROSS JOIN (SELECT min(id) AS first FROM users WHERE email LIKE 'client%%') c
CROSS JOIN (SELECT min(id) AS first FROM users WHERE email LIKE 'worker%%') w;

INSERT INTO ledger_accounts (kind, user_id)
SELECT role, user_id FROM user_roles WHERE role IN ('client', 'worker');
INSERT INTO ledger_accounts (kind, user_id)
VALUES ('revenue', NULL), ('payouts', NULL), ('fines', NULL), ('cash', NULL);

-- What the billing consumer posts (app/billing/postings.py), with its keys, dated by the order's end.
INSERT INTO ledger_transactions (idempotency_key, kind, description, occurred_at, created_at, order_id)
SELECT 'order:' || o.id || ':' || k.kind, k.kind, 'Order #' || o.id || ' (House cleaning) ' || o.status,
       o.finished_at, o.finished_at, o.id
FROM orders o
JOIN (VALUES ('charge', NULL), ('earning', 'completed'), ('fine', 'failed')) AS k (kind, status)
  ON k.status IS NULL OR k.status = o.status;

INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, occurred_at)
SELECT t.id, e.account_id, e.amount, t.occurred_at
FROM ledger_transactions t
JOIN orders o ON o.id = t.order_id
JOIN ledger_accounts client ON client.kind = 'client' AND client.user_id = o.client_id
JOIN ledger_accounts worker ON worker.kind = 'worker' AND worker.user_id = o.worker_id
CROSS JOIN (SELECT max(id) FILTER (WHERE kind = 'revenue') AS revenue,
                   max(id) FILTER (WHERE kind = 'payouts') AS payouts,
                   max(id) FILTER (WHERE kind = 'fines') AS fines
            FROM ledger_accounts WHERE user_id IS NULL) company
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        ('charge', client.id, %(price)s::bigint), ('charge', company.revenue, -%(price)s::bigint),
        ('earning', company.payouts, %(earning)s::bigint), ('earning', worker.id, -%(earning)s::bigint),
        ('fine', worker.id, %(fine)s::bigint), ('fine', company.fines, -%(fine)s::bigint)
    ) AS v (kind, account_id, amount)
    WHERE v.kind = t.kind
) e;

-- The steady state: the weeks before the last one were billed and paid by earlier weekly runs
-- (their invoices, the charges they cover, and the payments), so the run bills one week.
INSERT INTO invoices (party_kind, user_id, period_start, period_end, amount_cents, breakdown, status, provider,
                      attempts, last_error, created_at, paid_at)
SELECT 'client', a.user_id, w.week, w.week + 7, sum(e.amount_cents),
       jsonb_build_object('charges', sum(e.amount_cents), 'items', count(*), 'orders', count(*), 'late', 0),
       'paid', 'sandbox', 1, '', w.paid_at, w.paid_at
FROM ledger_entries e
JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'client'
CROSS JOIN LATERAL (SELECT date_trunc('week', e.occurred_at AT TIME ZONE 'UTC')::date AS week,
                           date_trunc('week', e.occurred_at) + interval '7 days 1 hour' AS paid_at) w
WHERE e.occurred_at < %(last_week)s
GROUP BY a.user_id, w.week, w.paid_at;

INSERT INTO invoice_items (invoice_id, transaction_id)
SELECT i.id, e.transaction_id
FROM ledger_entries e
JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'client'
JOIN invoices i ON i.party_kind = 'client' AND i.user_id = a.user_id
               AND i.period_start = date_trunc('week', e.occurred_at AT TIME ZONE 'UTC')::date
WHERE e.occurred_at < %(last_week)s;

INSERT INTO ledger_transactions (idempotency_key, kind, description, occurred_at, created_at, invoice_id)
SELECT 'payment:invoice:' || id, 'payment', 'Payment of invoice #' || id, paid_at, paid_at, id FROM invoices;

INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, occurred_at)
SELECT t.id, v.account_id, v.amount, t.occurred_at
FROM ledger_transactions t
JOIN invoices i ON i.id = t.invoice_id
JOIN ledger_accounts a ON a.kind = 'client' AND a.user_id = i.user_id
CROSS JOIN (SELECT id FROM ledger_accounts WHERE kind = 'cash') cash
CROSS JOIN LATERAL (VALUES (cash.id, i.amount_cents), (a.id, -i.amount_cents)) AS v (account_id, amount)
WHERE t.kind = 'payment'
"""


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def fill(url: str, orders: int) -> dict:
    started = time.perf_counter()
    parameters = {
        "clients": CLIENTS,
        "workers": WORKERS,
        "orders": orders,
        "month": MONTH_START,
        "price": PRICE_CENTS,
        "earning": EARNING_CENTS,
        "fine": FINE_CENTS,
        "last_week": LAST_WEEK,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        # The fill is balanced by construction: skip the per-row balance trigger (checked below).
        conn.execute("SET session_replication_role = replica")
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(statement, parameters)
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps
        counts = conn.execute(
            """
            SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM ledger_transactions),
                   (SELECT count(*) FROM ledger_entries),
                   (SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
                                          HAVING sum(amount_cents) <> 0) u)
            """
        ).fetchone()
    assert counts[3] == 0, f"{counts[3]} unbalanced transactions in the fill"
    figures = {"orders": counts[0], "transactions": counts[1], "entries": counts[2]}
    print(
        f"  filled {figures['orders']:,} orders, {figures['transactions']:,} transactions, "
        f"{figures['entries']:,} entries (all balanced; the first three weeks invoiced and paid)"
        f" in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return figures


def timed(label: str, function, results: dict):
    started = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - started
    results[label] = seconds
    print(f"  {label:<52} {seconds:9.3f} s", flush=True)
    return value


def main() -> None:
    # A SIGTERM (Ctrl-C's cousin from a supervisor) still drops the scratch database.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url, redis = claim_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        sizes(server, redis_url)
    finally:
        redis.flushdb()  # the runs' email jobs, never sent; this also releases the claim
    print(f"emptied the scratch Redis database {redis_url}")


def sizes(server: str, redis_url: str) -> None:
    print(f"billing runs: {CLIENTS:,} clients, {WORKERS:,} workers, orders over February 2021 (4 weeks)")
    all_results = []
    for size in SIZES:
        name = f"mcf_bench_billing_{secrets.token_hex(4)}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"with {size:,} orders:")
            all_results.append((size, measure(with_database(server, name), size, redis_url)))
        finally:
            from app.extensions import db

            try:
                db.engine.dispose()
            except Exception:
                pass
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"  dropped the scratch database {name}")
    report(all_results)
    print_table("billing runs")


def report(all_results: list[tuple[int, dict]]) -> None:
    if len(all_results) < 2:
        return
    (small, first), (big, second) = all_results[0], all_results[-1]
    growth = big / small
    print(f"growth from {small:,} to {big:,} orders (data x{growth:.0f}):")
    for label, seconds in second.items():
        if label in first and first[label] > 0:
            ratio = seconds / first[label]
            print(f"  {label:<52} x{ratio:6.2f}   (x{ratio / growth:5.2f} of the data's growth)")


def measure(url: str, orders: int, redis_url: str) -> dict:
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig, sqlalchemy_url
    from app.extensions import db

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=sqlalchemy_url(url),
        CLIENT_PAYMENT_PROVIDER="sandbox",
        WORKER_PAYOUT_PROVIDER="sandbox",
        COMPANY_TIMEZONE="UTC",
        REDIS_URL=redis_url,
        SANDBOX_DELAY_SECONDS=DELAY,
        BILLING_CONCURRENCY=CONCURRENCY,
    )
    results: dict[str, float] = {}
    with app.app_context():
        if os.environ.get("BENCH_SLOW_SQL"):  # print every statement slower than this many ms
            trace_slow_statements(db.engine, float(os.environ["BENCH_SLOW_SQL"]))
        upgrade()
        fill(url, orders)

        def count_entries() -> int:
            value = db.session.scalar(text("SELECT count(*) FROM ledger_entries"))
            db.session.rollback()
            return value

        def sum_per_account() -> int:
            rows = db.session.execute(
                text("SELECT account_id, sum(amount_cents) FROM ledger_entries GROUP BY account_id")
            ).all()
            db.session.rollback()
            return len(rows)

        count_entries()  # warm the cache as the runs will find it
        timed("baseline: COUNT(*) of the entries", count_entries, results)
        timed("baseline: SUM per account over all entries", sum_per_account, results)
        run_billing(app, results, orders)
        db.session.remove()
    return results


def trace_slow_statements(engine, threshold_ms: float) -> None:
    import threading

    from sqlalchemy import event

    started = threading.local()

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        started.at = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        ms = 1000 * (time.perf_counter() - started.at)
        if ms >= threshold_ms:
            print(f"    slow SQL {ms:8.1f} ms: {' '.join(statement.split())[:160]}", flush=True)


def profiled(label: str, function, *args):
    """With BENCH_PROFILE=N, cProfile the run's own thread (not the provider calls' pool) and print
    its N costliest functions by own time and by cumulative time: where the run's seconds go."""
    top = int(os.environ.get("BENCH_PROFILE") or 0)
    if not top:
        return function(*args)
    import cProfile
    import pstats

    profile = cProfile.Profile()
    try:
        return profile.runcall(function, *args)
    finally:
        print(f"    profile of the {label}'s own thread:", flush=True)
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


class Stopwatch:
    """Wraps a module function in place to add up the seconds spent in it (and count the calls)."""

    def __init__(self, module, name: str):
        self.module, self.name, self.original = module, name, getattr(module, name)
        self.seconds, self.calls = 0.0, 0

        def timed_call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        setattr(module, name, timed_call)

    def restore(self) -> None:
        setattr(self.module, self.name, self.original)


def run_billing(app, results: dict, orders: int) -> None:
    """The daily close, then each run as a manager starts it (`start_run` + the job's `execute`).

    The runs create a period's invoices in one set-based statement (`runs.create_invoices`) and
    then settle every invoice through the provider one by one (`payments.settle`): the two parts
    are timed apart by wrapping those functions, the run itself is unchanged.
    """
    from app.billing.processes import payments, runs
    from app.billing.processes.close import close_due_days
    from app.extensions import db

    closed = timed("daily close of the month's 28 days (close_due_days)", lambda: close_due_days(NOW), results)
    assert len(closed) == 28, closed
    manager = db.session.scalar(text("SELECT id FROM users WHERE email = 'manager@bench.example'"))
    for kind, label in ((runs.WEEKLY_CLIENTS, "weekly client run"), (runs.MONTHLY_WORKERS, "monthly worker run")):
        invoices = Stopwatch(runs, "create_invoices")
        issued_mail = Stopwatch(payments, "notify_issued")  # called inside create_invoices, per client invoice
        settling = [Stopwatch(payments, "settle_many"), Stopwatch(payments, "due_invoice_ids")]
        calls = Stopwatch(payments, "call_provider")
        try:
            run = runs.start_run(kind, manager, now=NOW)
            db.session.commit()
            job = lambda run_id=run.id, label=label: profiled(label, runs.execute, run_id, NOW)  # noqa: E731
            run = timed(f"{label}: whole run", job, results)
        finally:
            for watch in (invoices, issued_mail, *settling, calls):
                watch.restore()
        assert run.status == "done", (run.status, run.error)
        paying = sum(watch.seconds for watch in settling)
        results[f"{label}: invoices (INSERT + issued emails)"] = invoices.seconds
        results[f"{label}: of which the issued emails"] = issued_mail.seconds
        results[f"{label}: payments ({CONCURRENCY} provider calls at once)"] = paying
        summary = {key: value for key, value in run.summary.items() if key != "periods"}
        # The least the payments can take: every call's latency, CONCURRENCY at a time.
        floor = calls.calls * DELAY / CONCURRENCY
        results[f"{label}: provider latency floor ({calls.calls:,} x {DELAY} s / {CONCURRENCY})"] = floor
        print(
            f"    invoices {invoices.seconds:8.3f} s for {len(run.summary.get('periods', []))} period(s)"
            f" (of which {issued_mail.calls:,} 'invoice issued' batches {issued_mail.seconds:.3f} s);"
            f" payments {paying:8.3f} s for {calls.calls:,} provider calls of {DELAY} s, {CONCURRENCY} at once"
            f" (latency floor {floor:.1f} s; our overhead {1000 * max(0.0, paying - floor) / max(1, calls.calls):.2f}"
            f" ms per invoice); summary {summary}"
        )
        parties = CLIENTS if kind == runs.WEEKLY_CLIENTS else WORKERS
        summary_row(
            f"{label}: {parties:,} parties, {orders:,} orders, provider {DELAY} s",
            results[f"{label}: whole run"],
            "s",
            baseline=floor,
            baseline_label=f"latency floor ({CONCURRENCY} at once)",
        )
        summary_row(
            f"{label}: invoices (INSERT + issued emails), {orders:,} orders",
            invoices.seconds,
            "s",
            baseline=results["baseline: SUM per account over all entries"],
            baseline_label="SUM per account, all entries",
        )


if __name__ == "__main__":
    main()
