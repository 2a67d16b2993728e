"""The kinds of step a pipeline is made of.

A step gets the reference sample, the candidates still in the running and its params, and returns
either the ids to keep (a filter) or a raw score per candidate (the pipeline multiplies it by the
step's `weight`). Built-in steps that read the database do it with one set-based query for all
candidates at once. External steps run a configured command in any language (see `external`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db
from app.matching.samples import OrdinarySample, ReferenceSample
from app.orders.models import Order, OrderStatus
from app.platform.clock import utcnow

log = logging.getLogger(__name__)

S = OrderStatus
BUSY = (S.MATCHED, S.KIT_ISSUED, S.IN_PROGRESS)
MAX_OUTPUT_BYTES = 5 * 1024 * 1024


class StepFailed(Exception):
    """The step could not give an answer; the pipeline skips it and goes on."""


@dataclass
class Outcome:
    keep: set[int] | None = None  # a filter's answer
    scores: dict[int, float] | None = None  # a scorer's raw answer, before the weight

    @property
    def is_filter(self) -> bool:
        return self.keep is not None


Step = Callable[[ReferenceSample, list[OrdinarySample], dict], Outcome]


def _ids(candidates: list[OrdinarySample]):
    return bindparam("candidate_ids", [c.worker_id for c in candidates], type_=ARRAY(Integer))


def free_at_slot(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Filter: no active order of the worker overlaps the slot, widened by buffer_minutes."""
    buffer = timedelta(minutes=params.get("buffer_minutes", 0))
    busy = db.session.scalars(
        select(Order.worker_id)
        .where(
            Order.worker_id == any_(_ids(candidates)),
            Order.status.in_(BUSY),
            Order.id != reference.order_id,
            Order.slot_start < reference.slot_end + buffer,
            Order.slot_end > reference.slot_start - buffer,
        )
        .distinct()
    )
    taken = set(busy)
    return Outcome(keep={c.worker_id for c in candidates if c.worker_id not in taken})


def strengths(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Score in [-1, 1]: the service's skills among the worker's strengths, minus those among weaknesses.

    The traits came with the ordinary samples (one query for all), so this step reads nothing more.
    """
    skills = set(reference.skills)
    if not skills:
        return Outcome(scores={c.worker_id: 0.0 for c in candidates})
    size = len(skills)
    return Outcome(
        scores={
            c.worker_id: (len(skills & set(c.strengths)) - len(skills & set(c.weaknesses))) / size for c in candidates
        }
    )


# Later packages (quality) register here: f(worker ids) -> {worker id: score in [0, 1]}.
QUALITY_SOURCES: list[Callable[[list[int]], dict[int, float]]] = []


def past_results(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Score in [0, 1]: completed against failed orders, smoothed so a newcomer starts at 0.5.

    (completed + prior) / (completed + failed + 2 * prior). With `quality_weight`, the registered
    quality sources add their mean score times that weight.
    """
    prior = float(params.get("prior", 1.0))
    rows = db.session.execute(
        select(
            Order.worker_id,
            func.count().filter(Order.status == S.COMPLETED).label("completed"),
            func.count().filter(Order.status == S.FAILED).label("failed"),
        )
        .where(Order.worker_id == any_(_ids(candidates)), Order.status.in_((S.COMPLETED, S.FAILED)))
        .group_by(Order.worker_id)
    )
    history = {row.worker_id: (row.completed, row.failed) for row in rows}
    scores = {}
    for c in candidates:
        completed, failed = history.get(c.worker_id, (0, 0))
        scores[c.worker_id] = (completed + prior) / (completed + failed + 2 * prior)
    quality_weight = params.get("quality_weight")
    if quality_weight and QUALITY_SOURCES:
        ids = [c.worker_id for c in candidates]
        for source in QUALITY_SOURCES:
            for worker_id, value in source(ids).items():
                if worker_id in scores:
                    scores[worker_id] += quality_weight * value / len(QUALITY_SOURCES)
    return Outcome(scores=scores)


def current_load(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Score in (0, 1]: 1 / (1 + active orders in the next `days` days), so fewer is better."""
    now = utcnow()
    rows = db.session.execute(
        select(Order.worker_id, func.count())
        .where(
            Order.worker_id == any_(_ids(candidates)),
            Order.status.in_(BUSY),
            Order.id != reference.order_id,
            Order.slot_start >= now,
            Order.slot_start < now + timedelta(days=params.get("days", 7)),
        )
        .group_by(Order.worker_id)
    )
    load = {worker_id: number for worker_id, number in rows}
    return Outcome(scores={c.worker_id: 1.0 / (1 + load.get(c.worker_id, 0)) for c in candidates})


def tie_break(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Score in [0, 1): a hash of (seed, order id, worker id), the same on every run."""
    seed = params.get("seed", 0)
    scores = {}
    for c in candidates:
        digest = hashlib.sha256(f"{seed}:{reference.order_id}:{c.worker_id}".encode()).digest()
        scores[c.worker_id] = int.from_bytes(digest[:8], "big") / 2**64
    return Outcome(scores=scores)


# ---------------------------------------------------------------- external steps


def _safe_env() -> dict[str, str]:
    """The command gets a PATH and a locale, never the app's secrets (database URL, keys)."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _worker_id(value) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(value)


def external(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Run `command` (argv, no shell) with the samples as JSON on stdin; read its answer on stdout.

    stdin:  {"reference_sample": {...}, "ordinary_samples": [{...}, ...]}
    stdout: {"scores": {"<worker id>": number, ...}} in mode "score" (missing workers score 0),
            {"keep": [worker id, ...]} in mode "filter".
    A non-zero exit, a timeout (the process group is killed), or anything else on stdout raises
    StepFailed; the pipeline logs it and goes on without the step.
    """
    command = params["command"]
    cap = float(current_app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"])
    timeout = min(float(params.get("timeout_seconds", cap)), cap)
    mode = params.get("mode", "score")
    payload = json.dumps(
        {"reference_sample": reference.to_json(), "ordinary_samples": [c.to_json() for c in candidates]}
    ).encode()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_safe_env(),
            start_new_session=True,  # its own process group, so a timeout kills its children too
            close_fds=True,
        )
    except OSError as exc:
        raise StepFailed(f"could not start {command[0]!r}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = process.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise StepFailed(f"timed out after {timeout:g} s and was killed") from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-300:]
        raise StepFailed(f"exited with status {process.returncode}" + (f": {tail}" if tail else ""))
    if len(stdout) > MAX_OUTPUT_BYTES:
        raise StepFailed("wrote more than 5 MB")
    try:
        answer = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StepFailed(f"wrote no JSON: {stdout[:120].decode(errors='replace')!r}") from None
    if not isinstance(answer, dict):
        raise StepFailed("wrote JSON that is not an object")
    known = {c.worker_id for c in candidates}
    if mode == "filter":
        keep = answer.get("keep")
        if not isinstance(keep, list):
            raise StepFailed('a filter must write {"keep": [worker ids]}')
        try:
            ids = {_worker_id(value) for value in keep}
        except ValueError as exc:
            raise StepFailed(f"not a worker id in keep: {exc.args[0]!r}") from None
        return Outcome(keep=ids & known)
    scores = answer.get("scores")
    if not isinstance(scores, dict):
        raise StepFailed('a scoring step must write {"scores": {"<worker id>": number}}')
    result = {worker_id: 0.0 for worker_id in known}
    for key, value in scores.items():
        try:
            worker_id = _worker_id(key)
        except ValueError:
            raise StepFailed(f"not a worker id: {key!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise StepFailed(f"the score of worker {key} is not a finite number: {value!r}")
        if worker_id in result:
            result[worker_id] = float(value)
    return Outcome(scores=result)


BUILT_IN: dict[str, Step] = {
    "free_at_slot": free_at_slot,
    "strengths": strengths,
    "past_results": past_results,
    "current_load": current_load,
    "tie_break": tie_break,
}
STEPS: dict[str, Step] = {**BUILT_IN, "external": external}
FILTER_KINDS = {"free_at_slot"}


def is_filter(kind: str, params: dict) -> bool:
    return kind in FILTER_KINDS or (kind == "external" and params.get("mode") == "filter")
