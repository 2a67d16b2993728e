"""One summary format for every benchmark.

A benchmark adds rows (`summary_row`: what was measured, its figure, and the baseline measured in
the same run with its ratio) and ends with `print_table`, which prints them as a table and as one
machine-readable line (`BENCH-ROWS <json>`) that `bench/run_all.py` collects into one table.
"""

from __future__ import annotations

import json

ROWS: list[dict] = []
MARKER = "BENCH-ROWS "


def summary_row(
    what: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_label: str = "",
    goal: str = "",
    ok: bool | None = None,
) -> dict:
    """Add a figure; `ratio` is value / baseline (how many baselines it costs)."""
    ratio = value / baseline if baseline else None
    row = {
        "what": what,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_label": baseline_label,
        "ratio": ratio,
        "goal": goal,
        "ok": ok,
    }
    ROWS.append(row)
    return row


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def format_table(title: str, rows: list[dict]) -> str:
    header = ("what", "figure", "baseline (same run)", "ratio", "goal")
    lines = [
        (
            row["what"],
            _number(row["value"], row["unit"]),
            f"{_number(row['baseline'], row['unit'])} {row['baseline_label']}".strip() if row["baseline"] else "-",
            f"x{row['ratio']:.2f}" if row["ratio"] is not None else "-",
            (row["goal"] + (" (met)" if row["ok"] else " (NOT met)" if row["ok"] is False else "")).strip(),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    out = [f"== {title}"]
    for line in [header, tuple("-" * width for width in widths), *lines]:
        out.append(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return "\n".join(out)


def print_table(title: str) -> None:
    print(format_table(title, ROWS), flush=True)
    print(MARKER + json.dumps({"title": title, "rows": ROWS}), flush=True)
