from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.clock import utcnow


class MatchingStep(db.Model):
    """One step of the pipeline, in `position` order; managers edit these without a deploy.

    `kind` names a built-in step (app.matching.steps) or is "external": a command that reads the
    samples as JSON on stdin and writes scores as JSON on stdout.
    """

    __tablename__ = "matching_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MatchRun(db.Model):
    """What one matching did and why: the steps that ran, each candidate's scores, the choice."""

    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    chosen_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    fell_back: Mapped[bool] = mapped_column(Boolean, default=False)
    # Nobody suitable was free at the slot, so the chosen worker now has overlapping orders (US-073).
    double_booked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # [{"step", "kind", "status": "ran"|"skipped"|"failed", "ms", "error", "before", "after"}]
    steps: Mapped[list] = mapped_column(JSONB, default=list)
    # {"<worker id>": {"total": float, "<step name>": float, ...}} for the candidates that remained.
    # json, not jsonb: written once and read whole, it is stored as the text it is (thousands of
    # candidates repeat the same keys, which lz4 compresses away), with no binary conversion.
    scores: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def ranked(self, limit: int | None = None) -> list[tuple[int, dict]]:
        """(worker id, scores) best first: by total, then the lower id, as the pipeline chose."""
        rows = sorted(
            ((int(worker_id), scores) for worker_id, scores in (self.scores or {}).items()),
            key=lambda item: (-float(item[1].get("total", 0)), item[0]),
        )
        return rows if limit is None else rows[:limit]

    @property
    def score_columns(self) -> list[str]:
        """The scoring steps that produced the stored scores, in pipeline order."""
        phase = "fallback" if self.fell_back else None
        return [
            step["step"]
            for step in self.steps or []
            if step.get("role") == "score" and step.get("status") == "ran" and step.get("phase") == phase
        ]

    @property
    def candidate_count(self) -> int:
        return len(self.scores or {})


class WorkerFigures(db.Model):
    """Each worker's past results, kept exact by the database itself: a trigger on `orders`
    (migration matching_0002) adds and removes an order's contribution in the transaction that
    assigns, moves or ends it, so matching reads one row per worker instead of counting orders.
    `app.matching.figures.rebuild` recounts everything from the orders.

    The row is also the worker's lock while matching chooses them (app.matching.services)."""

    __tablename__ = "matching_worker_figures"

    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WorkerLoadDay(db.Model):
    """A worker's booked orders (matched, kit issued, in progress) per UTC day of their slot start,
    kept by the same trigger; a day without any has no row. "Current load" sums a window of days."""

    __tablename__ = "matching_worker_load_days"
    __table_args__ = (Index("ix_matching_worker_load_days_day", "day", "worker_id"),)

    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    busy: Mapped[int] = mapped_column(Integer, default=0)
