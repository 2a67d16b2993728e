"""The pipeline of built-in steps, ranked by PostgreSQL in one statement (issue 13, point 4).

When every enabled step is a built-in one, nothing about a candidate needs Python: the statement
takes the active workers (minus the order's exclusions, US-132), computes each step as a column
(a filter as a boolean, a score already weighted and rounded as the Python pipeline rounds it),
counts the candidates left after each filter, falls back to every eligible worker when the filters
leave nobody (US-073), and returns the ranking (best total first, then the lower id) with every
remaining candidate's scores as the JSON the match run stores. Past results and current load come
from the kept per-worker figures (app.matching.figures); "free at that time" reads the booked
orders overlapping the slot through their GiST index.

Python keeps the pipeline's rules (which steps, their order, their params) and writes the same
report per step as `app.matching.pipeline._run_steps` does; a pipeline with an external step (or
quality sources on "past results") runs there instead, on the same figures.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, timedelta

from sqlalchemy import text

from app.extensions import db
from app.matching.models import MatchingStep
from app.matching.samples import ReferenceSample
from app.matching.steps import QUALITY_SOURCES, is_filter
from app.platform.clock import utcnow

log = logging.getLogger(__name__)

SQL_KINDS = frozenset({"free_at_slot", "strengths", "past_results", "current_load", "tie_break"})


def sql_rankable(steps: list[MatchingStep]) -> bool:
    """Whether the statement can rank this pipeline (else the Python pipeline does)."""
    for step in steps:
        if step.kind not in SQL_KINDS:
            return False
        if step.kind == "past_results" and (step.params or {}).get("quality_weight") and QUALITY_SOURCES:
            return False
    return True


def _score_sql(step: MatchingStep, index: int, reference: ReferenceSample, binds: dict, joins: list[str]) -> str:
    """The raw score of a built-in scoring step for the worker `e`, as the step in steps.py computes it."""
    params = step.params or {}
    if step.kind == "strengths":
        skills = sorted(set(reference.skills))
        if not skills:
            return "0.0::float8"
        # One containment test per skill of the service (a handful) on the worker's lower-cased traits.
        for number, skill in enumerate(skills):
            binds[f"skill{index}_{number}"] = [skill]
        matched = " + ".join(
            f"(e.{{column}} @> CAST(:skill{index}_{number} AS text[]))::int" for number in range(len(skills))
        )
        strong, weak = matched.format(column="strengths"), matched.format(column="weaknesses")
        return f"(({strong}) - ({weak}))::float8 / {len(skills)}"
    if step.kind == "past_results":
        binds[f"prior{index}"] = float(params.get("prior", 1.0))
        prior = f"CAST(:prior{index} AS float8)"
        return f"(e.completed + {prior}) / (e.completed + e.failed + 2 * {prior})"
    if step.kind == "current_load":
        today = utcnow().astimezone(UTC).date()
        binds[f"today{index}"] = today
        binds[f"until{index}"] = today + timedelta(days=params.get("days", 7))
        joins.append(
            f"LEFT JOIN (SELECT worker_id, sum(busy) AS busy FROM matching_worker_load_days"
            f" WHERE day >= :today{index} AND day < :until{index} GROUP BY worker_id) AS load{index}"
            f" ON load{index}.worker_id = e.worker_id"
        )
        return f"1.0::float8 / (1 + coalesce(load{index}.busy, 0))"
    if step.kind == "tie_break":
        # sha256("seed:order:worker"), its first 8 bytes as an unsigned big-endian number, as steps.tie_break.
        binds[f"prefix{index}"] = f"{params.get('seed', 0)}:{reference.order_id}:"
        joins.append(
            f"CROSS JOIN LATERAL (SELECT ('x' || encode(substr(sha256(convert_to(:prefix{index} || e.worker_id::text,"
            f" 'UTF8')), 1, 8), 'hex'))::bit(64)::bigint AS v) AS hash{index}"
        )
        # The top 53 bits of the first 8 bytes (unsigned) / 2**53: exact in float8, no numeric.
        return f"((hash{index}.v >> 11) & {2**53 - 1})::float8 / {2**53}"
    raise ValueError(step.kind)


def _filter_sql(step: MatchingStep, index: int, reference: ReferenceSample, binds: dict) -> str:
    buffer = timedelta(minutes=(step.params or {}).get("buffer_minutes", 0))
    binds[f"start{index}"] = reference.slot_start - buffer
    binds[f"end{index}"] = reference.slot_end + buffer
    # An uncorrelated ARRAY(...) is computed once: the workers booked at an overlapping time.
    return (
        "NOT (e.worker_id = ANY(ARRAY(SELECT o.worker_id FROM orders AS o"
        " WHERE o.status IN ('matched', 'kit_issued', 'in_progress') AND o.worker_id IS NOT NULL"
        f" AND o.id <> :order_id AND tstzrange(o.slot_start, o.slot_end) && tstzrange(:start{index}, :end{index}))))"
    )


def statement(
    reference: ReferenceSample, steps: list[MatchingStep], keys: list[str]
) -> tuple[str, dict, list[int], dict[int, str]]:
    """The statement, its binds, the indexes of the filter steps, and the steps that failed
    ({index: error}: params the step cannot use; like the Python pipeline, it is skipped)."""
    binds: dict = {"order_id": reference.order_id, "excluded": sorted(reference.excluded_worker_ids)}
    columns, joins, filters, scorers, failed = [], [], [], [], {}
    for index, (step, key) in enumerate(zip(steps, keys, strict=True)):
        try:
            if is_filter(step.kind, step.params or {}):
                column = _filter_sql(step, index, reference, binds)
                filters.append(index)
            else:
                binds[f"w{index}"] = float((step.params or {}).get("weight", 1.0))
                binds[f"k{index}"] = key
                raw = _score_sql(step, index, reference, binds, joins)
                column = f"round((CAST(:w{index} AS float8) * ({raw}))::numeric, 6)"
                scorers.append(index)
        except Exception as exc:
            failed[index] = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("matching step %r (order %s) skipped: %s", key, reference.order_id, exc)
            continue
        columns.append(f"{column} AS c{index}")
    kept = " AND ".join(f"c{index}" for index in filters) or "TRUE"
    counts = ", ".join(
        f"count(*) FILTER (WHERE {' AND '.join(f'c{f}' for f in filters[: n + 1])})" for n in range(len(filters))
    )
    total = " + ".join(f"c{index}" for index in scorers) or "0"
    pairs = "".join(f", CAST(:k{index} AS text), c{index}" for index in scorers)
    sql = f"""
WITH pool AS (
    SELECT u.id AS worker_id,
           coalesce(lower(p.strengths::text)::text[], '{{}}') AS strengths,
           coalesce(lower(p.weaknesses::text)::text[], '{{}}') AS weaknesses,
           coalesce(f.completed, 0) AS completed, coalesce(f.failed, 0) AS failed,
           u.id <> ALL(CAST(:excluded AS integer[])) AS allowed
    FROM users AS u
    JOIN user_roles AS r ON r.user_id = u.id AND r.role = 'worker'
    LEFT JOIN worker_profiles AS p ON p.user_id = u.id
    LEFT JOIN matching_worker_figures AS f ON f.worker_id = u.id
    WHERE u.active
),
eligible AS (SELECT * FROM pool WHERE allowed OR NOT EXISTS (SELECT 1 FROM pool WHERE allowed)),
features AS (SELECT e.worker_id, {", ".join(columns) or "TRUE AS none"} FROM eligible AS e {" ".join(joins)}),
final AS (SELECT * FROM features WHERE ({kept}) OR NOT EXISTS (SELECT 1 FROM features WHERE {kept})),
totals AS (SELECT worker_id, round({total}, 6) AS total{"".join(f", c{i}" for i in scorers)} FROM final)
SELECT (SELECT count(*) FROM pool) AS pool,
       (SELECT count(*) FROM pool WHERE allowed) AS allowed,
       (SELECT ARRAY[count(*){", " + counts if counts else ""}] FROM features) AS counts,
       (SELECT array_agg(worker_id ORDER BY total DESC, worker_id) FROM totals) AS ranked,
       (SELECT json_object_agg(worker_id, json_build_object('total', total{pairs})) FROM totals)::text AS scores
"""
    return sql, binds, filters, failed


def rank_in_sql(reference: ReferenceSample, steps: list[MatchingStep], keys: list[str], ranking) -> None:
    """Fill `ranking` (app.matching.pipeline.Ranking) for a pipeline that `sql_rankable` accepted."""
    from app.matching.pipeline import ALL_EXCLUDED, FELL_BACK, NO_WORKERS, exclusions_report

    sql, binds, filters, failed = statement(reference, steps, keys)
    started = time.perf_counter()
    row = db.session.execute(text(sql), binds).one()
    ms = round((time.perf_counter() - started) * 1000, 2)
    if row.pool == 0:
        ranking.notes.append(NO_WORKERS)
        return
    eligible = row.allowed or row.pool
    if row.allowed != row.pool:
        ranking.steps.append(exclusions_report(row.pool, eligible))
    if row.allowed == 0:
        ranking.notes.append(ALL_EXCLUDED)
    after_filters = dict(zip(filters, row.counts[1:], strict=True))
    current = eligible
    for index, (step, key) in enumerate(zip(steps, keys, strict=True)):
        report = _report(step, key, is_filter(step.kind, step.params or {}), current, ms)
        if current == 0:
            report.update(status="skipped", error="no candidates left", ms=0.0)
        elif index in failed:
            report.update(status="failed", error=failed[index], ms=0.0)
        elif index in after_filters:
            current = after_filters[index]
            report["after"] = current
        ranking.steps.append(report)
    if current == 0:
        ranking.fell_back = True
        ranking.notes.append(FELL_BACK)
        for index, (step, key) in enumerate(zip(steps, keys, strict=True)):
            if index not in after_filters and not is_filter(step.kind, step.params or {}):
                report = {**_report(step, key, False, eligible, ms), "phase": "fallback"}
                if index in failed:
                    report.update(status="failed", error=failed[index], ms=0.0)
                ranking.steps.append(report)
    ranking.scores_text = row.scores or "{}"
    ranking.ranked = list(row.ranked or [])


def _report(step: MatchingStep, key: str, filtering: bool, candidates: int, ms: float) -> dict:
    params = step.params or {}
    return {
        "step": key,
        "step_id": step.id,
        "kind": step.kind,
        "role": "filter" if filtering else "score",
        "weight": None if filtering else params.get("weight", 1.0),
        "status": "ran",
        # Every step is a column of one statement: its time is the statement's, shared.
        "ms": ms,
        "shared_ms": True,
        "error": "",
        "before": candidates,
        "after": candidates,
    }
