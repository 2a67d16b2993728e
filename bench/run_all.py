"""Run every benchmark and print one summary table (`make bench`; `make bench-quick` with --quick).

Each benchmark runs in a process of its own, at full size or, with --quick, at small sizes (a
few seconds each), and ends with its own table and a `BENCH-ROWS` line (bench/summary.py); this
collects those lines into one table. It fails (exit 1) when a benchmark fails or prints no table.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/run_all.py [--quick] [--only billing,mail]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.summary import MARKER, format_table  # noqa: E402

# name: (script, extra arguments, environment) at full size and at quick size.
BENCHMARKS = {
    "billing": (
        "bench/billing_bench.py",
        ([], {}),
        ([], {"BENCH_SIZES": "2000", "BENCH_CLIENTS": "200", "BENCH_WORKERS": "40", "BENCH_PROVIDER_DELAY": "0.02"}),
    ),
    "matching": (
        "bench/matching_bench.py",
        ([], {}),
        ([], {"BENCH_WORKERS": "50", "BENCH_ORDERS": "2000", "BENCH_RUNS": "10"}),
    ),
    "pages": (
        "bench/pages_load.py",
        ([], {}),
        (["--orders", "3000", "--seconds", "1", "--threads", "2"], {}),
    ),
    "mail": (
        "bench/mail_bench.py",
        ([], {}),
        ([], {"BENCH_MESSAGES": "40", "BENCH_RECIPIENTS": "20", "BENCH_EVENTS_PER_SECOND": "5", "BENCH_SECONDS": "2"}),
    ),
    "mailbox": (
        "bench/mailbox_page.py",
        ([], {}),
        ([], {"BENCH_MAILBOX_MESSAGES": "200", "BENCH_MAILBOX_REPEAT": "3"}),
    ),
}


def run(name: str, quick: bool) -> tuple[dict | None, float, int]:
    script, full, small = BENCHMARKS[name]
    args, env = small if quick else full
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    table = None
    for line in process.stdout.splitlines():
        if line.startswith(MARKER):
            table = json.loads(line[len(MARKER) :])
        else:
            print(f"  [{name}] {line}", flush=True)
    if process.returncode != 0:
        print(process.stderr[-4000:], file=sys.stderr)
    return table, seconds, process.returncode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes: every benchmark in seconds")
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(BENCHMARKS))
    options = parser.parse_args()
    names = [name for name in options.only.split(",") if name] or list(BENCHMARKS)
    rows, failed = [], []
    for name in names:
        print(f"== {name} ({'quick' if options.quick else 'full size'})", flush=True)
        table, seconds, code = run(name, options.quick)
        if code != 0 or table is None or not table["rows"]:
            failed.append(f"{name} (exit {code}, {'no table' if table is None else 'table'})")
            continue
        rows += [{**row, "what": f"{name}: {row['what']}"} for row in table["rows"]]
        print(f"   {name} took {seconds:.1f} s", flush=True)
    print(format_table(f"summary ({'quick sizes' if options.quick else 'full sizes'})", rows))
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
