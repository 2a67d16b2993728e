"""Matching services: match an order (the consumer and a manager's re-run), preview a ranking,
explain a run, and edit the pipeline's steps. Services flush and never commit."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from app.matching.models import MatchingStep, MatchRun
from app.matching.params import check_params
from app.matching.pipeline import Ranking, rank
from app.orders.models import Order, OrderStatus
from app.orders.services import assign_worker
from app.orders.states import IllegalTransition, lock
from app.platform.validation import FieldErrors, ValidationError

# ---------------------------------------------------------------- matching an order


def _record(order: Order, ranking: Ranking) -> MatchRun:
    run = MatchRun(
        order_id=order.id,
        chosen_worker_id=ranking.chosen,
        fell_back=ranking.fell_back,
        steps=ranking.steps,
        scores=ranking.scores_json(),
        note=ranking.note[:500],
    )
    db.session.add(run)
    db.session.flush()
    return run


def match_order(order: Order) -> MatchRun | None:
    """Match a requested order: rank, record the run, assign the best worker (price fixed then).

    Idempotent: an order that is no longer requested is left alone (None). With no active worker
    at all the run is recorded with a note and the order stays requested; nothing is raised.
    The order's row lock is held throughout, so a manager's re-run and the consumer never both assign.
    """
    lock(order)
    if order.status != OrderStatus.REQUESTED:
        return None
    ranking = rank(order)
    run = _record(order, ranking)
    if ranking.chosen is not None:
        assign_worker(order, db.session.get(User, ranking.chosen))
    return run


def rematch(order: Order) -> MatchRun:
    """A manager runs matching again for an order that is still requested."""
    lock(order)
    if order.status != OrderStatus.REQUESTED:
        raise IllegalTransition(status="Only a requested order can be matched; use reassign for a matched one.")
    return match_order(order)


def preview(order: Order) -> Ranking:
    """The ranking the current pipeline would give the order, without recording or assigning."""
    return rank(order)


def preview_run(order: Order, ranking: Ranking) -> MatchRun:
    """A transient (never added) MatchRun, so a preview renders with the explanation partial."""
    return MatchRun(
        order_id=order.id,
        chosen_worker_id=ranking.chosen,
        fell_back=ranking.fell_back,
        steps=ranking.steps,
        scores=ranking.scores_json(),
        note=ranking.note,
    )


PREVIEW_RESULT_SECONDS = 600


def request_preview(order: Order) -> str | None:
    """Ask the worker for a preview of the order's ranking; the RQ job's id, None if Redis is away.

    Nothing is written, so there is no commit to wait for.
    """
    from redis.exceptions import RedisError

    from app.matching.jobs import PREVIEW_JOB
    from app.platform.queues import get_queue

    try:
        job = get_queue("default").enqueue(PREVIEW_JOB, order.id, result_ttl=PREVIEW_RESULT_SECONDS, job_timeout=120)
    except RedisError:
        return None
    return job.id


def request_rerun(order: Order) -> bool:
    """Ask the worker to match a requested order again (external steps never run in the web)."""
    from app.matching.jobs import RERUN_JOB
    from app.platform.queues import enqueue

    if order.status != OrderStatus.REQUESTED:
        raise IllegalTransition(status="Only a requested order can be matched; use reassign for a matched one.")
    return enqueue("default", RERUN_JOB, order.id)


def preview_result(job_id: str) -> tuple[str, MatchRun | None]:
    """("done", a transient run) | ("waiting", None) | ("failed", None) | ("unknown", None)."""
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from app.matching.jobs import PREVIEW_JOB
    from app.platform.queues import redis_connection

    if not (isinstance(job_id, str) and 0 < len(job_id) <= 64 and job_id.replace("-", "").isalnum()):
        return "unknown", None
    try:
        job = Job.fetch(job_id, connection=redis_connection())
        if job.func_name != PREVIEW_JOB:
            return "unknown", None
        status = job.get_status()
        if status == JobStatus.FINISHED:
            data = job.return_value()
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            return "failed", None
        else:
            return "waiting", None
    except (NoSuchJobError, RedisError):
        return "unknown", None
    if not data:
        return "unknown", None
    return "done", MatchRun(**data)


# ---------------------------------------------------------------- explaining a run


def runs_for(order_id: int) -> list[MatchRun]:
    """Every matching run of an order, newest first."""
    return list(db.session.scalars(select(MatchRun).where(MatchRun.order_id == order_id).order_by(MatchRun.id.desc())))


def latest_run(order_id: int) -> MatchRun | None:
    return db.session.scalars(
        select(MatchRun).where(MatchRun.order_id == order_id).order_by(MatchRun.id.desc()).limit(1)
    ).first()


def worker_names(runs: MatchRun | list[MatchRun] | None, limit: int = 10) -> dict[int, str]:
    """Names of the workers an explanation shows (the top `limit` of each run and the choice), one query."""
    if runs is None:
        return {}
    if isinstance(runs, MatchRun):
        runs = [runs]
    ids: set[int] = set()
    for run in runs:
        ids.update(worker_id for worker_id, _scores in run.ranked(limit))
        if run.chosen_worker_id is not None:
            ids.add(run.chosen_worker_id)
    if not ids:
        return {}
    return {row.id: row.name for row in db.session.execute(select(User.id, User.name).where(User.id.in_(ids)))}


# ---------------------------------------------------------------- editing the pipeline


def list_steps() -> list[MatchingStep]:
    return list(db.session.scalars(select(MatchingStep).order_by(MatchingStep.position, MatchingStep.id)))


def _check(kind: str, name: str, params, step_id: int | None) -> tuple[str, dict]:
    errors = FieldErrors()
    name = (name or "").strip()
    if not name:
        errors.add("name", "A name is required.")
    elif len(name) > 120:
        errors.add("name", "At most 120 characters.")
    else:
        clash = db.session.scalar(
            select(MatchingStep.id).where(
                func.lower(MatchingStep.name) == name.lower(), MatchingStep.id != (step_id or -1)
            )
        )
        if clash is not None:
            errors.add("name", "Another step has this name; names label the scores, so they must differ.")
    clean = {}
    try:
        clean = check_params(kind, params)
    except ValidationError as exc:
        for field_name, messages in exc.errors.items():
            for message in messages:
                errors.add(field_name, message)
    errors.raise_if_any()
    return name, clean


def add_step(kind: str, name: str, params: dict) -> MatchingStep:
    """A new step at the end of the pipeline, enabled."""
    name, clean = _check(kind, name, params, None)
    last = db.session.scalar(select(func.max(MatchingStep.position))) or 0
    step = MatchingStep(kind=kind, name=name, params=clean, enabled=True, position=last + 1)
    db.session.add(step)
    db.session.flush()
    return step


def update_step(step: MatchingStep, name: str, params: dict) -> MatchingStep:
    name, clean = _check(step.kind, name, params, step.id)
    step.name = name
    step.params = clean
    db.session.flush()
    return step


def set_enabled(step: MatchingStep, enabled: bool) -> None:
    step.enabled = enabled
    db.session.flush()


def move_step(step: MatchingStep, offset: int) -> None:
    """Move a step up (-1) or down (+1); positions are renumbered 1..n."""
    steps = list(
        db.session.scalars(select(MatchingStep).order_by(MatchingStep.position, MatchingStep.id).with_for_update())
    )
    index = steps.index(step)
    target = max(0, min(len(steps) - 1, index + offset))
    steps.insert(target, steps.pop(index))
    for position, item in enumerate(steps, start=1):
        if item.position != position:
            item.position = position
    db.session.flush()


def delete_step(step: MatchingStep) -> None:
    """Past runs keep the step's name and scores in their own record."""
    db.session.delete(step)
    db.session.flush()
