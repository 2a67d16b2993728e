"""Benchmarks kept alive: `make bench-quick` (bench/run_all.py --quick) runs every benchmark at small
sizes; each must run to its end and print its table, and the runner must print the one summary
table with a row per benchmark. Figures are not asserted (they depend on the machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TITLES = {
    "billing": "== billing runs",
    "matching": "== matching",
    "pages": "== pages",
    "mail": "== mail pipeline",
    "mailbox": "== dev mailbox page",
}


@pytest.mark.slow
def test_bench_quick_runs_every_benchmark_and_prints_its_table(servers):
    sys.path.insert(0, str(ROOT))
    from bench.run_all import BENCHMARKS

    server_url, redis_url = servers
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": server_url, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = process.stdout
    assert process.returncode == 0, output[-4000:] + process.stderr[-4000:]
    assert set(TITLES) == set(BENCHMARKS), "a benchmark without a title to check"
    for name, title in TITLES.items():
        assert f"[{name}] {title}" in output, f"{name} printed no table"
    summary = output.split("== summary (quick sizes)", 1)[1].splitlines()
    for name in BENCHMARKS:
        assert any(line.startswith(f"{name}: ") for line in summary), f"no summary row for {name}"
    assert "FAILED" not in output
