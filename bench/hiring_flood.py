"""Flood benchmark of the application form (US-081). Not a test.

It creates a scratch database on DATABASE_URL's server with one open vacancy, starts gunicorn as
in production (gunicorn.conf.py: gthread workers) on a free port, and runs two phases:

1. without the flood: 20 real applicants, each on its own loopback address, apply at random
   moments: they GET the form, solve the ALTCHA challenge with the `altcha` package (as the
   browser's widget does) while "typing" for longer than the minimum fill time, and POST with a
   photo;
2. with the flood, for --seconds: attackers on 50 loopback addresses (127.0.0.2 to 127.0.0.51)
   send as fast as they can, each thread cycling through a plain POST (no session, no token, no
   solution), a POST replaying one solution they solved once (with a valid session, CSRF token and
   an aged form token), and a GET of the form; meanwhile 20 new real applicants apply as above.

The app reads the client address from the connection (no proxy): every request here binds its
source address. Real applicants use 127.0.1.x and 127.0.2.x: loopback addresses, but not in the
attackers' /24, which is what the per-/24 limit is for.

It prints, for each phase: real applications accepted, their POST latency (p50/p95), the rows the
table holds in all and those that reach the managers' board from the flood, and the status codes
the attackers received. Everything it started is stopped and the scratch database dropped.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/hiring_flood.py [--seconds 60] [--attack-processes 2]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLUG = "bench-cat"
ATTACKERS = [f"127.0.0.{n}" for n in range(2, 52)]
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One client on one source address, with its cookies, over a keep-alive connection."""

    def __init__(self, port: int, address: str, timeout: float = 30):
        self.port, self.address, self.timeout = port, address, timeout
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout, source_address=(self.address, 0)
                )
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt:
                    return 0, b""
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, data

    def form(self) -> tuple[str, str]:
        status, page = self.request("GET", f"/careers/{SLUG}")
        text = page.decode(errors="replace")
        csrf, token = CSRF.search(text), FORM_TOKEN.search(text)
        if status != 200 or not csrf or not token:
            raise RuntimeError(f"no form for {self.address}: {status}")
        return csrf.group(1), token.group(1)

    def solve(self) -> str:
        import json

        from app.hiring.intake import solve

        status, body = self.request("GET", "/careers/challenge")
        if status != 200:
            raise RuntimeError(f"no challenge for {self.address}: {status}")
        return solve(json.loads(body))


def multipart(fields: dict[str, str], photo: bytes | None) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if photo is not None:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="me.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
        )
        out.write(photo + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 80, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def details(tag: str, number: int) -> dict[str, str]:
    return {
        "name": f"Real {tag} {number}",
        "email": f"real-{tag}-{number}@bench.example",
        "phone": "+44 7700 900000",
        "age": "3",
        "breed": "Siamese",
        "coat_colour": "cream",
        "about": "A real applicant.",
        "website": "",
    }


def real_applicant(port: int, address: str, tag: str, number: int, delay: float, fill_seconds: float, out: list):
    time.sleep(delay)
    browser = Browser(port, address)
    try:
        csrf, token = browser.form()
        started = time.monotonic()
        payload = browser.solve()  # the widget solves while the applicant types
        time.sleep(max(0.0, fill_seconds - (time.monotonic() - started)))
        body, content_type = multipart(
            {**details(tag, number), "csrf_token": csrf, "form_token": token, "altcha": payload}, jpeg()
        )
        sent = time.perf_counter()
        status, _ = browser.request("POST", f"/careers/{SLUG}", body, {"Content-Type": content_type})
        out.append((status, (time.perf_counter() - sent) * 1000))
    except Exception as exc:  # reported as a failed applicant
        out.append((f"error: {exc}", 0.0))


def real_phase(port: int, tag: str, first_octets: str, seconds: float, fill_seconds: float) -> list:
    results: list = []
    threads = [
        threading.Thread(
            target=real_applicant,
            args=(
                port,
                f"{first_octets}.{n + 1}",
                tag,
                n,
                random.uniform(0, max(1.0, seconds - fill_seconds - 8)),
                fill_seconds,
                results,
            ),
        )
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return results


def attack_process(port: int, addresses: list[str], seconds: float, fill_seconds: float, out) -> None:
    """Attackers: each address runs a thread cycling plain POST, replayed POST and GET of the form."""
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    # One solution, solved once honestly and used once (that row is the flood's only one), then replayed.
    first = Browser(port, addresses[0])
    csrf, token = first.form()
    time.sleep(fill_seconds)
    stolen = first.solve()
    fields = {
        **details("attacker", 0),
        "email": f"stolen-{addresses[0]}@flood.example",
        "csrf_token": csrf,
        "form_token": token,
        "altcha": stolen,
    }
    body, content_type = multipart(fields, jpeg())
    with lock:
        counts[
            (
                "first use of the solution",
                first.request("POST", f"/careers/{SLUG}", body, {"Content-Type": content_type})[0],
            )
        ] += 1
    plain_body = urllib.parse.urlencode({**details("attacker", 1), "email": "plain@flood.example"}).encode()
    stop_at = time.monotonic() + seconds

    def attacker(address: str, index: int) -> None:
        browser = Browser(port, address, timeout=10)
        plain = Browser(port, address, timeout=10)
        try:
            csrf, token = browser.form()
        except RuntimeError:
            csrf, token = "", ""
        replay_fields = {
            **details("attacker", index),
            "email": f"replay-{address}@flood.example",
            "csrf_token": csrf,
            "form_token": token,
            "altcha": stolen,
        }
        replay_body, replay_type = multipart(replay_fields, jpeg())
        time.sleep(fill_seconds)  # the form token ages once; it is reused for every replay
        local: collections.Counter = collections.Counter()
        while time.monotonic() < stop_at:
            status, _ = plain.request(
                "POST", f"/careers/{SLUG}", plain_body, {"Content-Type": "application/x-www-form-urlencoded"}
            )
            local[("plain POST", status)] += 1
            status, _ = browser.request("POST", f"/careers/{SLUG}", replay_body, {"Content-Type": replay_type})
            local[("replayed POST", status)] += 1
            status, _ = browser.request("GET", f"/careers/{SLUG}")
            local[("GET form", status)] += 1
        with lock:
            counts.update(local)

    threads = [threading.Thread(target=attacker, args=(address, n)) for n, address in enumerate(addresses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    out.put(dict(counts))


def table_counts(url: str) -> tuple[int, int, int]:
    """(rows in all, flood rows on the board, flood rows in all)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE email LIKE '%%@flood.example' AND stage <> 'unconfirmed'), "
            "count(*) FILTER (WHERE email LIKE '%%@flood.example') FROM hiring_applications"
        ).fetchone()


def claim_redis_db(url: str) -> str:
    """A Redis database nobody uses (claimed like the test runs claim theirs), emptied at the end."""
    from redis import Redis

    for number in range(1, 16):
        candidate = urlunsplit(urlsplit(url)._replace(path=f"/{number}"))
        connection = Redis.from_url(candidate)
        if connection.dbsize() == 0 and connection.set("mcf-test-run", "hiring-flood-bench", nx=True, ex=3600):
            return candidate
    raise RuntimeError("no free Redis database between 1 and 15")


def summarise(results: list) -> dict:
    accepted = [ms for status, ms in results if status == 303]
    other = collections.Counter(status for status, _ in results if status != 303)
    return {
        "accepted": len(accepted),
        "p50": statistics.median(accepted) if accepted else float("nan"),
        "p95": statistics.quantiles(accepted, n=20)[18] if len(accepted) >= 2 else float("nan"),
        "other": dict(other),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the flood (and of the calm phase)")
    parser.add_argument("--attack-processes", type=int, default=2)
    args = parser.parse_args()

    import psycopg
    from redis import Redis

    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = claim_redis_db(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    name = f"mcf_bench_flood_{secrets.token_hex(4)}"
    scratch = _with_database(server, name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    gunicorn = None
    fill_seconds = 4.5
    try:
        env = {
            **os.environ,
            "MCF_ENV": "development",
            "DATABASE_URL": scratch,
            "REDIS_URL": redis_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "LOG_LEVEL": "WARNING",
            "FLASK_DEBUG": "0",
            "HIRING_MIN_FILL_SECONDS": "4",
        }
        os.environ.update({"MCF_ENV": "development", "SECRET_KEY": env["SECRET_KEY"]})
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        with psycopg.connect(scratch, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO hiring_vacancies (slug, title, description, is_open, created_at) "
                "VALUES (%s, 'Bench cat', 'Chores.', true, now())",
                (SLUG,),
            )
        port = _free_port()
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(200):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not come up: " + gunicorn.stderr.read(4000).decode(errors="replace"))

        calm_seconds = min(args.seconds, 40.0)
        print(f"phase 1: 20 real applicants over {calm_seconds:.0f} s, no flood", flush=True)
        calm_results = real_phase(port, "calm", "127.0.1", calm_seconds, fill_seconds)
        calm = summarise(calm_results)
        rows_after_calm = table_counts(scratch)[0]

        print(f"phase 2: 20 real applicants while 50 addresses flood for {args.seconds:.0f} s", flush=True)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        chunks = [ATTACKERS[i :: args.attack_processes] for i in range(args.attack_processes)]
        attackers = [
            context.Process(target=attack_process, args=(port, chunk, args.seconds, fill_seconds, out))
            for chunk in chunks
        ]
        for process in attackers:
            process.start()
        time.sleep(fill_seconds + 1)  # the flood is running before the first real applicant comes
        flood = summarise(real_phase(port, "flood", "127.0.2", args.seconds - fill_seconds - 1, fill_seconds))
        statuses: collections.Counter = collections.Counter()
        for _ in attackers:
            statuses.update(out.get(timeout=args.seconds + 180))
        for process in attackers:
            process.join(30)
        rows, flood_on_board, flood_rows = table_counts(scratch)

        print()
        print(f"{'':44} {'without flood':>14} {'with flood':>14}")
        print(f"{'real applications accepted (303)':44} {calm['accepted']:>11}/20 {flood['accepted']:>11}/20")
        print(f"{'their POST p50 (ms)':44} {calm['p50']:>14.0f} {flood['p50']:>14.0f}")
        print(f"{'their POST p95 (ms)':44} {calm['p95']:>14.0f} {flood['p95']:>14.0f}")
        print(f"{'p95 ratio flood / calm (goal <= 2)':44} {'':>14} {flood['p95'] / calm['p95']:>14.2f}")
        if calm["other"] or flood["other"]:
            print(f"{'real applicants refused (status: count)':44} {calm['other']!s:>14} {flood['other']!s:>14}")
        print(f"{'rows written in all (hiring_applications)':44} {rows_after_calm:>14} {rows - rows_after_calm:>14}")
        print(f"{'  of which from the flood':44} {'':>14} {flood_rows:>14}")
        print(f"{'flood rows on the managers board':44} {'':>14} {flood_on_board:>14}")
        print("\nattackers' requests by kind and status:")
        total = 0
        for (kind, status), count in sorted(statuses.items(), key=lambda item: (item[0][0], str(item[0][1]))):
            total += count
            print(f"  {kind:28} {status!s:>4} {count:>8}")
        print(f"  {'in all':28} {'':>4} {total:>8}  ({total / args.seconds:.0f}/s)")
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
        Redis.from_url(redis_url).flushdb()


if __name__ == "__main__":
    main()
