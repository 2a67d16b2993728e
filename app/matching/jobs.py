"""Matching work a manager asks for from the web, done in the worker (never in a web process):
a "try it" preview and a re-run. External steps run only inside jobs (app/matching/steps.py)."""

from __future__ import annotations

from app.extensions import db
from app.matching import services
from app.orders.models import Order
from app.platform.jobs import job
from app.platform.validation import ValidationError

PREVIEW_JOB = "app.matching.jobs.preview_ranking"
RERUN_JOB = "app.matching.jobs.rerun_matching"


@job
def preview_ranking(order_id: int) -> dict | None:
    """The ranking the pipeline would give the order now, as plain data; nothing is written."""
    order = db.session.get(Order, order_id)
    if order is None:
        return None
    ranking = services.preview(order)
    db.session.rollback()
    return {
        "order_id": order_id,
        "chosen_worker_id": ranking.chosen,
        "fell_back": ranking.fell_back,
        "steps": ranking.steps,
        "scores": ranking.scores_json(),
        "note": ranking.note,
    }


@job
def rerun_matching(order_id: int) -> str:
    """A manager's re-run of matching for a requested order; its run shows in the order's history."""
    order = db.session.get(Order, order_id)
    if order is None:
        return "no such order"
    try:
        run = services.rematch(order)
    except ValidationError as exc:
        db.session.rollback()
        return str(exc)
    db.session.commit()
    return "matched" if run is not None and run.chosen_worker_id is not None else "still requested"
