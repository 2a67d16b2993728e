"""Matching services: match an order (the consumer and a manager's re-run), preview a ranking,
explain a run, and edit the pipeline's steps. Services flush and never commit."""

from __future__ import annotations

from sqlalchemy import JSON, Text, cast, func, literal, select

from app.accounts.models import User
from app.extensions import db
from app.matching import figures
from app.matching.models import MatchingStep, MatchRun
from app.matching.params import check_params
from app.matching.pipeline import Ranking, rank
from app.orders.bookings import booked_workers, clashes
from app.orders.models import Order, OrderStatus
from app.orders.services import assign_worker
from app.orders.states import IllegalTransition, lock
from app.platform.validation import FieldErrors, ValidationError

# ---------------------------------------------------------------- matching an order


BOOKED_MEANWHILE = (
    "{names} already had an order at an overlapping time, so the best free worker in the ranking was chosen."
)
DOUBLE_BOOKED = (
    "Every ranked worker is booked at an overlapping time, so the best of them was given the order anyway"
    " (US-073: matching always assigns someone). It is flagged as double booked for the managers."
)


def _record(order: Order, ranking: Ranking, chosen: int | None, double_booked: bool) -> MatchRun:
    if ranking.scores_text is not None:
        # The statement's JSON goes back as it came: no parsing, no re-serialising per candidate.
        scores = cast(literal(ranking.scores_text, Text), JSON)
    else:
        scores = ranking.scores_json()
    run = MatchRun(
        order_id=order.id,
        chosen_worker_id=chosen,
        fell_back=ranking.fell_back,
        double_booked=double_booked,
        steps=ranking.steps,
        scores=scores,
        note=ranking.note[:500],
    )
    db.session.add(run)
    db.session.flush()
    return run


def _free_under_lock(order: Order, worker_id: int) -> bool:
    """Lock the worker (their figures row) inside a savepoint and check, under that lock, that no
    booked order of theirs overlaps the slot. Free: the lock is kept until the commit, so a matcher
    choosing the same worker for an overlapping slot waits and then sees this assignment. Not free:
    the savepoint's rollback releases the lock at once (so no matcher holds a lock while it waits
    for another one: no deadlock)."""
    try:
        with db.session.begin_nested():
            figures.lock_worker(worker_id)
            if clashes(worker_id, order.slot_start, order.slot_end, exclude_order_id=order.id):
                raise _Booked
    except _Booked:
        return False
    return True


class _Booked(Exception):
    """Rolls the savepoint back, and the worker's lock with it."""


def _choose(order: Order, ranking: Ranking) -> tuple[int | None, bool, list[int]]:
    """(worker, double booked, ranked workers passed over because they were booked meanwhile).

    The best ranked worker who is free at the slot under their lock (slot start to start + the
    service's duration), also when many orders are matched at once. When nobody ranked is free,
    US-073 still assigns the best one, and the double booking is recorded.
    """
    remaining = list(ranking.ranked)
    if not remaining:
        return None, False, []
    passed: list[int] = []
    # The pipeline's filter usually left only free workers: try the best one before asking who is booked.
    if _free_under_lock(order, remaining[0]):
        return remaining[0], False, passed
    passed.append(remaining.pop(0))
    while remaining:
        booked = booked_workers(order.slot_start, order.slot_end, exclude_order_id=order.id)
        free = [worker_id for worker_id in remaining if worker_id not in booked]
        if not free:
            break
        candidate = free[0]
        index = remaining.index(candidate)
        passed.extend(remaining[:index])
        remaining = remaining[index + 1 :]
        if _free_under_lock(order, candidate):
            return candidate, False, passed
        passed.append(candidate)
    best = ranking.ranked[0]
    figures.lock_worker(best)
    return best, True, passed


def match_order(order: Order) -> MatchRun | None:
    """Match a requested order: rank, choose under the worker's lock, record the run, assign the
    worker (price fixed then).

    Idempotent: an order that is no longer requested is left alone (None). With no active worker
    at all the run is recorded with a note and the order stays requested; nothing is raised.
    The order's row lock is held throughout, so a manager's re-run and the consumer never both assign.
    """
    lock(order)
    if order.status != OrderStatus.REQUESTED:
        return None
    ranking = rank(order)
    chosen, double_booked, passed = _choose(order, ranking)
    if chosen is not None and chosen != ranking.chosen and not double_booked:
        names = worker_names_of(passed[:5])
        ranking.notes.append(
            BOOKED_MEANWHILE.format(names=", ".join(names) + (" and others" if len(passed) > 5 else ""))
        )
    if double_booked:
        ranking.notes.append(DOUBLE_BOOKED)
    run = _record(order, ranking, chosen, double_booked)
    if chosen is not None:
        assign_worker(order, db.session.get(User, chosen))
        order.double_booked = double_booked
        db.session.flush()
    return run


def worker_names_of(ids: list[int]) -> list[str]:
    names = {row.id: row.name for row in db.session.execute(select(User.id, User.name).where(User.id.in_(ids)))}
    return [names.get(worker_id, f"worker #{worker_id}") for worker_id in ids]


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
