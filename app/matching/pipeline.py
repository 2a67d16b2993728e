"""The matching pipeline (US-060..073): the enabled steps, in `position` order, over the candidates.

Excluded workers (those who failed an earlier copy of the order, US-132) go first, before any
step. Then each step filters the candidates or scores them; a candidate's total is the sum of its
weighted step scores and the best total wins (ties: the lower worker id, so it is deterministic).
A step that fails is recorded and skipped, never fatal. If the filters leave nobody, the scoring
steps rank every eligible active worker instead and the result is marked `fell_back` (US-073):
matching always returns a worker while there is one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.matching.models import MatchingStep
from app.matching.ranking_sql import rank_in_sql, sql_rankable
from app.matching.samples import OrdinarySample, ReferenceSample, ordinary_samples, reference_sample
from app.matching.steps import BUILT_IN, STEPS, StepFailed, is_filter
from app.orders.models import Order

log = logging.getLogger(__name__)


def exclusions_report(before: int, after: int) -> dict:
    """The explanation's line for the workers a copy of a failed order leaves out (both pipelines)."""
    return {
        "step": "Exclusions",
        "kind": "exclusions",
        "role": "filter",
        "weight": None,
        "status": "ran",
        "ms": 0.0,
        "error": "",
        "before": before,
        "after": after,
    }


NO_WORKERS = "No active workers: the order stays requested until a manager runs matching again."
ALL_EXCLUDED = "Every active worker failed an earlier copy of this order; the exclusion was set aside."
FELL_BACK = "The filters left nobody, so the best of all active workers was chosen."


@dataclass
class Ranking:
    """What a pipeline run found: the steps' reports, the remaining candidates' scores, best first."""

    order_id: int
    steps: list[dict] = field(default_factory=list)
    ranked: list[int] = field(default_factory=list)
    fell_back: bool = False
    notes: list[str] = field(default_factory=list)
    # The scores as JSON text, {"<worker id>": {"total": .., "<step>": ..}}, when the statement of
    # app.matching.ranking_sql wrote them: a match run stores that text as it is, so thousands of
    # candidates' scores never pass through Python objects unless someone reads `scores`.
    scores_text: str | None = None
    _scores: dict[int, dict[str, float]] | None = field(default=None, repr=False)

    @property
    def scores(self) -> dict[int, dict[str, float]]:
        if self._scores is None:
            self._scores = {int(key): value for key, value in json.loads(self.scores_text or "{}").items()}
        return self._scores

    @scores.setter
    def scores(self, value: dict[int, dict[str, float]]) -> None:
        self._scores, self.scores_text = value, None

    @property
    def chosen(self) -> int | None:
        return self.ranked[0] if self.ranked else None

    @property
    def note(self) -> str:
        return " ".join(self.notes)

    def scores_json(self) -> dict:
        return {str(worker_id): self.scores[worker_id] for worker_id in self.ranked}


def enabled_steps() -> list[MatchingStep]:
    return list(
        db.session.scalars(
            select(MatchingStep).where(MatchingStep.enabled.is_(True)).order_by(MatchingStep.position, MatchingStep.id)
        )
    )


def _keys(steps: list[MatchingStep]) -> list[str]:
    """A unique label per step, used as the score's key in the run's record."""
    keys, seen = [], set()
    for step in steps:
        key = step.name or step.kind
        number = 2
        while key in seen:
            key = f"{step.name} ({number})"
            number += 1
        seen.add(key)
        keys.append(key)
    return keys


def _run_steps(
    steps: list[MatchingStep], reference: ReferenceSample, pool: list[OrdinarySample], phase: str
) -> tuple[list[OrdinarySample], dict[int, dict[str, float]], list[dict]]:
    candidates = list(pool)
    per_worker: dict[int, dict[str, float]] = {c.worker_id: {} for c in pool}
    reports = []
    for step, key in zip(steps, _keys(steps), strict=True):
        params = step.params or {}
        filtering = is_filter(step.kind, params)
        report = {
            "step": key,
            "step_id": step.id,
            "kind": step.kind,
            "role": "filter" if filtering else "score",
            "weight": None if filtering else params.get("weight", 1.0),
            "status": "ran",
            "ms": 0.0,
            "error": "",
            "before": len(candidates),
            "after": len(candidates),
        }
        if phase != "pipeline":
            report["phase"] = phase
        reports.append(report)
        function = STEPS.get(step.kind)
        if function is None:
            report.update(status="failed", error=f"unknown kind {step.kind!r}")
            log.warning("matching step %r (order %s) skipped: unknown kind", key, reference.order_id)
            continue
        if not candidates:
            report.update(status="skipped", error="no candidates left")
            continue
        started = time.perf_counter()
        try:
            if step.kind in BUILT_IN:
                with db.session.begin_nested():  # a failing query must not poison the transaction
                    outcome = function(reference, candidates, params)
            else:
                outcome = function(reference, candidates, params)
        except StepFailed as exc:
            report.update(status="failed", error=str(exc)[:500])
            log.warning("matching step %r (order %s) skipped: %s", key, reference.order_id, exc)
            continue
        except Exception as exc:
            report.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            log.exception("matching step %r (order %s) failed and was skipped", key, reference.order_id)
            continue
        finally:
            report["ms"] = round((time.perf_counter() - started) * 1000, 2)
        if outcome.is_filter:
            candidates = [c for c in candidates if c.worker_id in outcome.keep]
            report["after"] = len(candidates)
        else:
            weight = float(params.get("weight", 1.0))
            for c in candidates:
                per_worker[c.worker_id][key] = round(weight * float(outcome.scores.get(c.worker_id, 0.0)), 6)
    scores = {}
    for c in candidates:
        values = per_worker[c.worker_id]
        scores[c.worker_id] = {"total": round(sum(values.values()), 6), **values}
    return candidates, scores, reports


def rank_samples(reference: ReferenceSample, pool: list[OrdinarySample], steps: list[MatchingStep]) -> Ranking:
    """The pipeline over given samples: pure apart from the steps' own set-based reads."""
    ranking = Ranking(order_id=reference.order_id)
    if not pool:
        ranking.notes.append(NO_WORKERS)
        return ranking
    eligible = [s for s in pool if s.worker_id not in reference.excluded_worker_ids]
    if len(eligible) != len(pool):
        ranking.steps.append(exclusions_report(len(pool), len(eligible) or len(pool)))
    if not eligible:
        eligible = pool
        ranking.notes.append(ALL_EXCLUDED)
    candidates, scores, reports = _run_steps(steps, reference, eligible, "pipeline")
    ranking.steps.extend(reports)
    if not candidates:
        ranking.fell_back = True
        ranking.notes.append(FELL_BACK)
        scorers = [step for step in steps if not is_filter(step.kind, step.params or {})]
        candidates, scores, reports = _run_steps(scorers, reference, eligible, "fallback")
        ranking.steps.extend(reports)
    ranking.scores = scores
    ranking.ranked = sorted(scores, key=lambda worker_id: (-scores[worker_id]["total"], worker_id))
    return ranking


def rank(order: Order) -> Ranking:
    """Rank the active workers for an order with the pipeline as configured now; assigns nothing.

    A pipeline of built-in steps is ranked by PostgreSQL in one statement (app.matching.ranking_sql);
    one with an external step runs here, step by step, on the samples.
    """
    steps = enabled_steps()
    reference = reference_sample(order)
    if sql_rankable(steps):
        ranking = Ranking(order_id=reference.order_id)
        try:
            with db.session.begin_nested():  # a failing statement must not poison the transaction
                rank_in_sql(reference, steps, _keys(steps), ranking)
            return ranking
        except SQLAlchemyError:
            log.exception("ranking order %s in SQL failed; ranking it step by step", reference.order_id)
    return rank_samples(reference, ordinary_samples(), steps)
