"""Load benchmark of the order pages with 100,000 orders. Not a test.

It creates a scratch database on DATABASE_URL's server, migrates it, fills it set-based
(INSERT ... SELECT generate_series: 10,000 clients, 1,000 workers, 100,000 orders over three
months in every status), starts gunicorn as in production (`python -m gunicorn -w 2 wsgi:app` on a
free 127.0.0.1 port), and from a second process logs in (one session per role, shared by the
threads) and drives each page with a few threads for a bounded time and number of requests:

- /baseline: the baseline, a page through the same machinery as the others (session, logged-in
  user, layout template) that runs one trivial query; measured first and last;
- /healthz (the load balancers' probe, no session, no template), for reference;
- the client's dashboard, the worker's order list;
- the manager's orders table: unfiltered, a deep page, filtered (status + date range, worker, client)
  and the htmx fragment.

It prints requests/second and p50/p95 latency for each, with ratios to the baseline measured in the
same run. With several sizes (`--orders 100000,1000000`) each size gets its own database and run,
then the orders table's p50 at the largest size is compared with the smallest. Everything it
started is stopped and the scratch databases are dropped at the end.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/pages_load.py [--seconds 8] [--threads 8] [--orders 100000[,1000000]]
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import multiprocessing
import os
import queue
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.summary import print_table, summary_row  # noqa: E402

PASSWORD = "bench-password-123"
CLIENTS, WORKERS = 10_000, 1_000
SERVICE_TYPES = ["House cleaning", "Cooking", "Gardening", "Shopping", "Small repairs"]
SKILLS = ["cleaning", "cooking", "gardening", "shopping", "repairs"]


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- the data


def seed(url: str, orders: int) -> dict:
    """Fill the migrated scratch database set-based; returns the accounts to log in with."""
    import psycopg
    from argon2 import PasswordHasher

    # The development cost (app.config.BaseConfig.ARGON2_*), so logging in needs no rehash.
    password_hash = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(PASSWORD)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(
            """
            INSERT INTO users (email, name, password_hash, active, session_version, created_at)
            SELECT 'client' || g || '@bench.example', 'Client ' || g, %(hash)s, true, 0, now()
            FROM generate_series(1, %(clients)s) g
            """,
            {"hash": password_hash, "clients": CLIENTS},
        )
        conn.execute(
            """
            INSERT INTO users (email, name, password_hash, active, session_version, created_at)
            SELECT 'worker' || g || '@bench.example', 'Worker ' || g, %(hash)s, true, 0, now()
            FROM generate_series(1, %(workers)s) g
            """,
            {"hash": password_hash, "workers": WORKERS},
        )
        conn.execute(
            """
            INSERT INTO users (email, name, password_hash, active, session_version, created_at)
            VALUES ('manager@bench.example', 'Bench Manager', %(hash)s, true, 0, now())
            """,
            {"hash": password_hash},
        )
        for role, pattern in (("client", "client%"), ("worker", "worker%"), ("manager", "manager%")):
            conn.execute(
                "INSERT INTO user_roles (user_id, role) SELECT id, %s FROM users WHERE email LIKE %s",
                (role, pattern),
            )
        conn.execute(
            """
            INSERT INTO client_profiles (user_id, address, payment_method)
            SELECT id, id || ' Bench Street', 'card' FROM users WHERE email LIKE 'client%'
            """
        )
        conn.execute(
            """
            INSERT INTO worker_profiles (user_id, age, breed, coat_colour, strengths, weaknesses)
            SELECT id, 1 + id %% 15, 'Tabby', 'grey',
                   ARRAY[(%(skills)s::text[])[1 + id %% 5], (%(skills)s::text[])[1 + (id / 5) %% 5]], ARRAY['baths']
            FROM users WHERE email LIKE 'worker%%'
            """,
            {"skills": SKILLS},
        )
        for name, skill in zip(SERVICE_TYPES, SKILLS, strict=True):
            conn.execute(
                """
                INSERT INTO service_types (name, description, base_price_cents, duration_minutes, skills,
                                           consumables, created_at)
                VALUES (%s, '', 10000, 120, ARRAY[%s], ARRAY['Job acceptance form'], now())
                """,
                (name, skill),
            )
        bounds = conn.execute(
            """
            SELECT (SELECT min(id) FROM users WHERE email LIKE 'client%'),
                   (SELECT min(id) FROM users WHERE email LIKE 'worker%'),
                   (SELECT min(id) FROM service_types)
            """
        ).fetchone()
        conn.execute(
            """
            WITH s AS (
                SELECT g,
                       date_trunc('hour', now() - interval '60 days' + random() * interval '90 days') AS slot,
                       random() AS r,
                       %(c0)s + floor(random() * %(clients)s)::int AS client_id,
                       %(w0)s + floor(random() * %(workers)s)::int AS worker_id,
                       %(t0)s + floor(random() * 5)::int AS type_id
                FROM generate_series(1, %(orders)s) g
            ), t AS (
                SELECT s.*,
                       CASE
                         WHEN slot BETWEEN now() - interval '2 hours' AND now() THEN 'in_progress'
                         WHEN slot < now() THEN CASE WHEN r < .8 THEN 'completed' WHEN r < .9 THEN 'cancelled'
                                                     ELSE 'failed' END
                         ELSE CASE WHEN r < .1 THEN 'requested' WHEN r < .6 THEN 'matched' ELSE 'kit_issued' END
                       END AS status
                FROM s
            )
            INSERT INTO orders (client_id, worker_id, service_type_id, description, address, slot_start, slot_end,
                                status, base_price_cents, discount_percent, price_cents, created_at, matched_at,
                                finish_reason)
            SELECT client_id, CASE WHEN status = 'requested' THEN NULL ELSE worker_id END, type_id,
                   'Bench order ' || g, g || ' Bench Street', slot, slot + interval '2 hours', status,
                   CASE WHEN status = 'requested' THEN NULL ELSE 10000 END,
                   CASE WHEN status = 'requested' THEN NULL ELSE 0 END,
                   CASE WHEN status = 'requested' THEN NULL ELSE 9000 + (g %% 11) * 100 END,
                   slot - interval '3 days', CASE WHEN status = 'requested' THEN NULL ELSE slot - interval '3 days' END,
                   CASE WHEN status IN ('cancelled', 'failed') THEN 'bench' ELSE '' END
            FROM t
            """,
            {
                "c0": bounds[0],
                "w0": bounds[1],
                "t0": bounds[2],
                "clients": CLIENTS,
                "workers": WORKERS,
                "orders": orders,
            },
        )
        # What autovacuum does on a live database soon after: statistics and the visibility map
        # (without it, no index-only scan until autovacuum comes by).
        conn.execute("VACUUM ANALYZE")
        # The accounts used: a typical client (about 10 orders) and worker (about 100 orders).
        client_id = bounds[0] + CLIENTS // 2
        worker_id = bounds[1] + WORKERS // 2
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM orders WHERE client_id = %s),"
            " (SELECT count(*) FROM orders WHERE worker_id = %s)",
            (client_id, worker_id),
        ).fetchone()
        print(
            f"seeded {orders:,} orders, {CLIENTS:,} clients, {WORKERS:,} workers"
            f" in {time.perf_counter() - started:.1f} s"
        )
    return {
        "client": (f"client{client_id - bounds[0] + 1}@bench.example", counts[0]),
        "worker": (f"worker{worker_id - bounds[1] + 1}@bench.example", counts[1]),
        "manager": ("manager@bench.example", None),
    }


# ---------------------------------------------------------------- the load (in a second process)


class Session:
    """A logged-in browser: cookies and the CSRF token, over urllib (127.0.0.1 only)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def login(self, email: str) -> None:
        status, body = self.get("/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
        if token is None:
            token = re.search(rb'"X-CSRFToken": "([^"]+)"', body)
        data = urllib.parse.urlencode(
            {"email": email, "password": PASSWORD, "csrf_token": token.group(1).decode()}
        ).encode()
        with self.opener.open(urllib.request.Request(self.base + "/login", data=data), timeout=30) as response:
            landing = response.geturl()
        if "/login" in landing:
            raise RuntimeError(f"could not log in as {email}")


def drive(session: Session, path: str, headers: dict, seconds: float, threads: int, max_requests: int) -> dict:
    """`threads` threads request `path` until the time or the request budget is spent: one round."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    budget = [max_requests]

    def run() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            began = time.perf_counter()
            status, _body = session.get(path, headers)
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors[0] += 1

    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"latencies": latencies, "errors": errors[0], "wall": time.perf_counter() - started}


def summarise(rounds: list[dict]) -> dict:
    latencies = sorted(latency for one in rounds for latency in one["latencies"])
    wall = sum(one["wall"] for one in rounds)
    return {
        "requests": len(latencies),
        "errors": sum(one["errors"] for one in rounds),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000,
    }


def load_process(
    base: str, accounts: dict, scenarios: list, seconds: float, threads: int, budget: int, rounds: int, out
) -> None:
    """Every page in turn, `rounds` times (seconds / rounds each): on a shared machine whose load
    drifts, each page's figures then spread over the whole run, like the baseline's."""
    sessions = {None: Session(base)}
    for role, (email, _count) in accounts.items():
        sessions[role] = Session(base)
        sessions[role].login(email)
    resolved = []
    for label, role, path, headers in scenarios:
        if path.startswith("NEXT*"):  # follow the pager's Next link n times from the first page
            hops, path = path[len("NEXT*") :].split(" ", 1)
            for _ in range(int(hops)):
                _status, body = sessions[role].get(path)
                path = html.unescape(re.search(rb'<a href="([^"]+)"[^>]*rel="next"', body).group(1).decode())
        resolved.append((label, role, path, headers))
    scenarios = resolved
    for _label, role, path, headers in scenarios:
        for _ in range(5):  # warm-up: compiled templates, pooled connections, caches
            sessions[role].get(path, headers)
    measured: dict[str, list] = {label: [] for label, *_rest in scenarios}
    for _ in range(rounds):
        for label, role, path, headers in scenarios:
            measured[label].append(drive(sessions[role], path, headers, seconds / rounds, threads, budget // rounds))
    out.put({label: summarise(parts) for label, parts in measured.items()})


# ---------------------------------------------------------------- the run

# The goals of issue 13, as ratios of req/s to the baseline page measured in the same run.
GOALS = {"client": 0.6, "worker": 0.6, "manager": 0.5}
P95_GOAL_MS = 100  # the orders table, at 8 threads
GROWTH_GOAL = 1.5  # the orders table at the largest size against the smallest: at most this much slower


def scenarios_for() -> list:
    zone_today = datetime.now(UTC).date()
    week = f"from={zone_today - timedelta(days=7)}&to={zone_today}"
    hx = {"HX-Request": "true"}
    return [
        ("baseline /baseline (manager)", "manager", "/baseline", {}),
        ("/healthz (load balancers)", None, "/healthz", {}),
        ("client dashboard /client/", "client", "/client/", {}),
        ("worker order list /work/", "worker", "/work/", {}),
        ("manager orders, unfiltered", "manager", "/manage/orders", {}),
        # Page 40 as the pager reaches it (39 clicks on Next: a cursor), and as a bare page number.
        ("manager orders, page 40 (Next links)", "manager", "NEXT*39 /manage/orders", {}),
        ("manager orders, page 40 (offset)", "manager", "/manage/orders?page=40", {}),
        ("manager orders, status+week", "manager", f"/manage/orders?status=completed&{week}", {}),
        ("manager orders, worker search", "manager", "/manage/orders?worker=Worker+77&sort=price", {}),
        ("manager orders, client search", "manager", "/manage/orders?client=Client+123", {}),
        ("manager orders, htmx fragment", "manager", f"/manage/orders?status=matched&{week}", hx),
        ("baseline /baseline again", "manager", "/baseline", {}),
    ]


def run_size(server: str, redis_url: str, orders: int, args) -> tuple[dict, dict, list]:
    """One scratch database of `orders` orders, gunicorn on it, every scenario driven; dropped at the end."""
    import psycopg

    name = f"mcf_bench_pages_{secrets.token_hex(4)}"
    scratch = _with_database(server, name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    gunicorn = None
    try:
        env = {
            **os.environ,
            "MCF_ENV": "development",
            "DATABASE_URL": scratch,
            "REDIS_URL": redis_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "LOG_LEVEL": "WARNING",
            "FLASK_DEBUG": "0",
            # The benchmark signs several people in from one address within a second: the sign-in
            # protections (a budget of password checks, the gate after a refusal) are not measured here.
            "PASSWORD_CHECKS_PER_SECOND": "1000",
            "LOGIN_GATE_SECONDS": "0",
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        accounts = seed(scratch, orders)
        port = _free_port()
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not come up: " + gunicorn.stderr.read(4000).decode(errors="replace"))

        scenarios = scenarios_for()
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        loader = context.Process(
            target=load_process,
            args=(base, accounts, scenarios, args.seconds, args.threads, args.max_requests, args.rounds, out),
        )
        loader.start()
        deadline = time.monotonic() + len(scenarios) * (args.seconds + 60) + 120
        while True:  # a loader that died (its traceback is on stderr) ends the run instead of hanging it
            try:
                results = out.get(timeout=2)
                break
            except queue.Empty:
                if loader.exitcode is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the load process ended without results (exit code {loader.exitcode})"
                    ) from None
        loader.join(30)
        return results, accounts, scenarios
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(orders: int, results: dict, accounts: dict, scenarios: list, args) -> None:
    baseline_label = scenarios[0][0]
    # The baseline is measured first and last; their mean evens out the drift of a shared machine.
    first, last = results[baseline_label], results[scenarios[-1][0]]
    baseline_rps = (first["rps"] + last["rps"]) / 2
    baseline_p95 = (first["p95"] + last["p95"]) / 2
    print(
        f"\n{orders:,} orders; gunicorn -w 2 (gthread, gunicorn.conf.py); {args.threads} client threads, "
        f"{args.seconds:.0f} s or {args.max_requests:,} requests per page in {args.rounds} rounds; "
        f"client has {accounts['client'][1]} orders, worker {accounts['worker'][1]}\n"
    )
    header = (
        f"{'page':38} {'req':>6} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'rps ratio':>10} {'p95 ratio':>10} {'goal':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, role, _path, _headers in scenarios:
        r = results[label]
        goal = GOALS.get(role) if not label.startswith("baseline") else None
        print(
            f"{label:38} {r['requests']:>6} {r['errors']:>4} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
            f"{r['rps'] / baseline_rps:>10.2f} {r['p95'] / baseline_p95:>10.2f} {goal or '':>6}"
        )
    print(
        "\nratios: req/s of the page / req/s of /baseline, p95 of the page / p95 of /baseline (the mean of the"
        " two baseline runs, same run). /baseline: session, logged-in user, layout template, one query."
    )
    for label, role, _path, _headers in scenarios[1:-1]:
        r = results[label]
        goal = GOALS.get(role)
        met = None
        if goal is not None:
            met = r["rps"] / baseline_rps >= goal and r["errors"] == 0
            if role == "manager" and args.threads >= 8:
                met = met and r["p95"] < P95_GOAL_MS
        summary_row(
            f"{label}, {orders:,} orders, {args.threads} threads (p95 {r['p95']:.0f} ms, {r['errors']} errors)",
            r["rps"],
            "req/s",
            baseline=baseline_rps,
            baseline_label="/baseline",
            goal=(f">= x{goal}" + (f", p95 < {P95_GOAL_MS} ms" if role == "manager" else "")) if goal else "",
            ok=met,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", default="100000,1000000", help="one size, or several separated by commas")
    parser.add_argument("--seconds", type=float, default=8.0, help="per page")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=5_000, help="per page")
    parser.add_argument("--rounds", type=int, default=4, help="pages are measured in turn, this many times")
    args = parser.parse_args()
    # A TERM (a stopped run) unwinds like an error: gunicorn stopped, scratch databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    sizes = [int(size) for size in str(args.orders).split(",")]
    runs = {}
    for orders in sizes:
        results, accounts, scenarios = run_size(server, redis_url, orders, args)
        report(orders, results, accounts, scenarios, args)
        runs[orders] = results
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        # Each size ran on its own, maybe under another load: its p50 is taken in baselines of its
        # own run (page p50 / baseline p50), and those are compared.
        print(
            f"\ngrowth from {small:,} to {large:,} orders: p50 in baselines of the same run at {large:,}"
            f" / the same at {small:,} (raw p50 ratio in brackets):"
        )
        first, last = scenarios_for()[0][0], scenarios_for()[-1][0]

        def baseline_p50(results: dict) -> float:
            return (results[first]["p50"] + results[last]["p50"]) / 2

        for label, role, _path, _headers in scenarios_for():
            if role != "manager" or label.startswith("baseline"):
                continue
            before, after = runs[small][label], runs[large][label]
            growth = (after["p50"] / baseline_p50(runs[large])) / (before["p50"] / baseline_p50(runs[small]))
            print(f"  {label:38} x{growth:.2f} (x{after['p50'] / before['p50']:.2f})")
            summary_row(
                f"{label}: p50 at {large:,} against {small:,} orders, in baselines of each run",
                growth,
                "x",
                goal=f"<= x{GROWTH_GOAL}",
                ok=growth <= GROWTH_GOAL,
            )


if __name__ == "__main__":
    main()
    print_table("pages")
