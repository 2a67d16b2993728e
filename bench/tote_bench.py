"""Benchmark of the tote at scale. Not a test.

On a scratch database of DATABASE_URL's server (migrated, dropped at the end) and a Redis database
of its own on REDIS_URL (15 down to 1, claimed like the test runs claim theirs, emptied at the end):

1. 15 bettors; 10,000 `order.requested` events (written set-based) delivered to the tote through
   the real delivery job body (`app.events.jobs.deliver`): 10,000 pools.
2. Bets: every bettor places 3 bets on every order (450,000 bets). A sample goes through the real
   service (`place_bet`, one commit each, as the web view does) to time a bet; the rest are written
   set-based with the same rows and ledger postings (stake transactions keyed like the service's).
3. Settlement of all pools: an end event per order (completed 80%, cancelled 10%, failed 10%),
   delivered through the real job body: settlement, ledger postings and one outbox mail per bettor
   per pool. 9,000 are settled first, then the board is measured with the 1,000 pools still open,
   then the last 1,000 are settled. It checks that every pool's payouts sum to its pot, that the
   ledger balances and that the stakes account ends at zero.
4. The board (`GET /tote/` and its htmx fragment, 50 pools a page, each with 45 bets) with 1,000
   open pools, against the trivial `/healthz` page (one query) measured in the same run,
   in-process through the Flask test client: median, p95 and the ratio of the p95s.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/tote_bench.py [--orders 10000] [--bettors 15] [--bets 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MCF_ENV", "test")
PASSWORD = "bench-password-123"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def claim_redis(url: str) -> tuple[str, Redis]:
    for number in range(15, 0, -1):
        candidate = urlunsplit(urlsplit(url)._replace(path=f"/{number}"))
        connection = Redis.from_url(candidate)
        if connection.set("mcf-test-run", f"bench-{os.getpid()}", nx=True, ex=3 * 3600):
            return candidate, connection
    raise RuntimeError("every Redis database from 15 to 1 is claimed")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(label: str, count: int, function) -> float:
    started = time.perf_counter()
    function()
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.1f} s  ({count / seconds:,.0f}/s, {seconds * 1000 / max(count, 1):.2f} ms each)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--bettors", type=int, default=15)
    parser.add_argument("--bets", type=int, default=3, help="bets per bettor per order")
    parser.add_argument("--open", type=int, default=1_000, help="open pools while the board is measured")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sample", type=int, default=2_000, help="bets placed through the service")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url, redis = claim_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    name = f"mcf_bench_tote_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(with_database(server, name), redis_url, args)
    finally:
        from app.extensions import db

        try:
            db.engine.dispose()
        except Exception:
            pass
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        redis.flushdb()
        print(f"dropped the scratch database {name} and emptied {redis_url}")


def run(url: str, redis_url: str, args) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.accounts import services as accounts
    from app.config import TestConfig, sqlalchemy_url
    from app.events.jobs import deliver
    from app.extensions import db
    from app.tote import ledger, services
    from app.tote.models import AccountKind, Bet, Pool, Settlement

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(url), REDIS_URL=redis_url)
    orders, per_order = args.orders, args.bettors * args.bets
    print(f"tote bench: {args.bettors} bettors x {args.bets} bets on each of {orders:,} orders")
    with app.app_context():
        upgrade()
        bettors = [
            accounts.create_staff(f"bettor{i}@bench.example", f"Bettor {i:02d}", ["manager", "bettor"], PASSWORD)
            for i in range(args.bettors)
        ]
        db.session.commit()
        bettor_ids = [bettor.id for bettor in bettors]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """
                INSERT INTO events (type, aggregate_type, aggregate_id, payload, created_at)
                SELECT 'order.requested', 'order', g::text,
                       jsonb_build_object('order_id', g, 'status', 'requested', 'service', 'Bench cleaning',
                                          'slot_start', to_char((now() + interval '1 day' + g * interval '1 minute')
                                                    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00'),
                                          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00')),
                       now() - interval '1 hour'
                FROM generate_series(1, %(orders)s) g
                """,
                {"orders": orders},
            )

        def open_pools():
            for order_id in range(1, orders + 1):
                deliver("tote", "order", str(order_id))

        timed("pools opened from order.requested (real delivery)", orders, open_pools)
        assert db.session.scalar(select(func.count()).select_from(Pool)) == orders

        # Bets: a sample through the service, the rest set-based in the same shape.
        outcomes = ("completed", "cancelled", "failed")
        sample = min(args.sample, orders * per_order)
        pool_ids = db.session.scalars(select(Pool.id).order_by(Pool.order_id)).all()
        sampled_pools = max(1, sample // per_order)

        def place_sample():
            for pool_id in pool_ids[:sampled_pools]:
                for index in range(per_order):
                    bettor = bettors[index % args.bettors]
                    services.place_bet(
                        bettor, pool_id, outcomes[index % 3], f"{1 + (index * 7) % 20}.{index % 100:02d}"
                    )
                    db.session.commit()

        timed("bets placed through the service (one commit each)", sampled_pools * per_order, place_sample)
        started = time.perf_counter()
        bettor_accounts = [ledger.account_id(AccountKind.BETTOR, bettor_id) for bettor_id in bettor_ids]
        stakes_account = ledger.account_id(AccountKind.STAKES)
        db.session.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """
                WITH b AS (
                    INSERT INTO tote_bets (pool_id, bettor_id, outcome, amount_cents, placed_at, void)
                    SELECT p.id, (%(bettors)s::int[])[1 + i %% %(n)s],
                           (ARRAY['completed','cancelled','failed'])[1 + i %% 3],
                           100 + ((i * 7) %% 20) * 100 + (i %% 100), now() - interval '30 minutes', false
                    FROM tote_pools p CROSS JOIN generate_series(0, %(per_order)s - 1) i
                    WHERE p.id > %(last_sampled)s
                    RETURNING id, pool_id, bettor_id, amount_cents
                ), t AS (
                    INSERT INTO tote_transactions (idempotency_key, kind, description, occurred_at, created_at, pool_id,
                                                   created_by_id)
                    SELECT 'tote:bet:' || id || ':stake', 'stake', 'bench bet', now() - interval '30 minutes', now(),
                           pool_id, bettor_id
                    FROM b
                    RETURNING id, idempotency_key
                )
                INSERT INTO tote_entries (transaction_id, account_id, amount_cents, occurred_at)
                SELECT t.id, acc.account_id, acc.amount, now() - interval '30 minutes'
                FROM t JOIN b ON t.idempotency_key = 'tote:bet:' || b.id || ':stake'
                CROSS JOIN LATERAL (VALUES ((%(accounts)s::int[])[array_position(%(bettors)s::int[], b.bettor_id)],
                                            -b.amount_cents),
                                           (%(stakes)s, b.amount_cents)) AS acc(account_id, amount)
                """,
                {
                    "bettors": bettor_ids,
                    "accounts": bettor_accounts,
                    "stakes": stakes_account,
                    "n": args.bettors,
                    "per_order": per_order,
                    "last_sampled": pool_ids[sampled_pools - 1],
                },
            )
            conn.execute("VACUUM ANALYZE")
        bets = db.session.scalar(select(func.count()).select_from(Bet))
        print(f"  {bets:,} bets in all (the rest written set-based in {time.perf_counter() - started:.1f} s)")

        def publish_ends(first: int, last: int) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    """
                    INSERT INTO events (type, aggregate_type, aggregate_id, payload, created_at)
                    SELECT 'order.' || o, 'order', g::text,
                           jsonb_build_object('order_id', g, 'status', o, 'service', 'Bench cleaning',
                                              'slot_start', to_char((now() + interval '1 day' + g * interval '1 minute')
                                                        AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00')),
                           now()
                    FROM generate_series(%(first)s::int, %(last)s::int) g
                    CROSS JOIN LATERAL (SELECT CASE WHEN g %% 10 = 3 THEN 'cancelled' WHEN g %% 10 = 7 THEN 'failed'
                                                    ELSE 'completed' END) AS x(o)
                    """,
                    {"first": first, "last": last},
                )

        def settle(first: int, last: int) -> None:
            for order_id in range(first, last + 1):
                deliver("tote", "order", str(order_id))

        settled_first = max(0, orders - args.open)
        seconds = 0.0
        if settled_first:
            publish_ends(1, settled_first)
            seconds += timed(
                f"settlement of {settled_first:,} pools ({per_order} bets, {args.bettors} mails each)",
                settled_first,
                lambda: settle(1, settled_first),
            )

        # The board with the pools still open.
        open_count = db.session.scalar(select(func.count()).select_from(Pool).where(Pool.status == "open"))
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"email": bettors[0].email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.status_code
        assert client.get("/tote/").status_code == 200
        samples: dict[str, list[float]] = {"baseline /healthz": [], "board /tote/": [], "board fragment (htmx)": []}
        requests = {
            "baseline /healthz": ("/healthz", {}),
            "board /tote/": ("/tote/", {}),
            "board fragment (htmx)": ("/tote/?part=board", {"HX-Request": "true"}),
        }
        for _ in range(args.requests):
            for label, (path, headers) in requests.items():
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                samples[label].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
        print(f"  the board with {open_count:,} open pools ({args.requests} requests each, in-process):")
        base_p95 = percentile(samples["baseline /healthz"], 0.95)
        for label, values in samples.items():
            p95 = percentile(values, 0.95)
            print(
                f"    {label:<26} median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms"
                f"   p95 / baseline p95 {p95 / base_p95:6.1f}x"
            )

        if settled_first < orders:
            publish_ends(settled_first + 1, orders)
            seconds += timed(
                f"settlement of the last {orders - settled_first:,} pools",
                orders - settled_first,
                lambda: settle(settled_first + 1, orders),
            )
        print(f"  settlement of all {orders:,} pools: {seconds:.1f} s ({seconds * 1000 / orders:.2f} ms a pool)")

        # The promises, checked at scale.
        db.session.expire_all()
        settlements = db.session.scalar(select(func.count()).select_from(Settlement))
        mismatched = db.session.execute(
            select(func.count())
            .select_from(Settlement)
            .where(
                Settlement.pot_cents
                != select(func.coalesce(func.sum(Bet.payout_cents), 0))
                .where(Bet.pool_id == Settlement.pool_id, Bet.withdrawn_at.is_(None))
                .scalar_subquery()
                + Settlement.house_cents
            )
        ).scalar_one()
        assert settlements == orders, settlements
        assert mismatched == 0, mismatched
        assert ledger.unbalanced_transactions() == []
        assert ledger.balance(ledger.account_id(AccountKind.STAKES)) == 0
        print(
            f"  checked: {settlements:,} settlements, payouts + house = pot in every one, ledger balanced, stakes at 0"
        )


if __name__ == "__main__":
    main()
