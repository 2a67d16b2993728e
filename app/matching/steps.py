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
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

from flask import current_app
from sqlalchemy import Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db
from app.matching.commands import Command, CommandError, check_args, get_command
from app.matching.models import WorkerFigures, WorkerLoadDay
from app.matching.samples import OrdinarySample, ReferenceSample
from app.orders.bookings import booked_workers
from app.platform.clock import utcnow
from app.platform.jobs import running_in_job
from app.platform.validation import single_line

log = logging.getLogger(__name__)


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
    """Filter: no booked order of the worker overlaps the slot, widened by buffer_minutes.

    One read of the booked orders overlapping the slot (a GiST index), whatever the history."""
    taken = booked_workers(
        reference.slot_start,
        reference.slot_end,
        exclude_order_id=reference.order_id,
        buffer=timedelta(minutes=params.get("buffer_minutes", 0)),
    )
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
    # The kept figures (app.matching.figures), one row per worker, not a count over their orders.
    rows = db.session.execute(
        select(WorkerFigures.worker_id, WorkerFigures.completed, WorkerFigures.failed).where(
            WorkerFigures.worker_id == any_(_ids(candidates))
        )
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
    """Score in (0, 1]: 1 / (1 + booked orders from today on, over `days` days), so fewer is better.

    Read from the kept booked orders per day (app.matching.figures): days are UTC days of the slot
    start, today included, so work booked earlier today still counts as load."""
    today = utcnow().astimezone(UTC).date()
    rows = db.session.execute(
        select(WorkerLoadDay.worker_id, func.sum(WorkerLoadDay.busy))
        .where(
            WorkerLoadDay.worker_id == any_(_ids(candidates)),
            WorkerLoadDay.day >= today,
            WorkerLoadDay.day < today + timedelta(days=params.get("days", 7)),
        )
        .group_by(WorkerLoadDay.worker_id)
    )
    load = {worker_id: number for worker_id, number in rows}
    return Outcome(scores={c.worker_id: 1.0 / (1 + load.get(c.worker_id, 0)) for c in candidates})


def tie_break(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Score in [0, 1): a hash of (seed, order id, worker id), the same on every run."""
    seed = params.get("seed", 0)
    scores = {}
    for c in candidates:
        digest = hashlib.sha256(f"{seed}:{reference.order_id}:{c.worker_id}".encode()).digest()
        # The top 53 bits of the first 8 bytes / 2**53: exactly representable, and what SQL computes
        # with integer arithmetic (app.matching.ranking_sql).
        scores[c.worker_id] = (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    return Outcome(scores=scores)


# ---------------------------------------------------------------- external steps


def _limits(command: Command, timeout: float, output_bytes: int) -> Callable[[], None]:
    """Resource limits set in the child before it runs the command: memory, CPU time, the size of
    what it may write (its stdout/stderr are files: a bigger write kills it), no core dumps."""

    def apply() -> None:
        memory = command.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = max(1, math.ceil(timeout)) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


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


def _log_stderr(name: str, stderr: bytes) -> None:
    """What a step wrote on stderr goes to the worker log only, as one filtered line."""
    text = single_line(stderr[-2000:].decode(errors="replace"))
    if text:
        log.warning("external step %s wrote on stderr: %s", name, text[-500:])


def run_command(command: Command, payload: bytes, timeout: float) -> bytes:
    """Run a registered command in the worker with `payload` on stdin; its stdout, or StepFailed.

    No shell, an empty environment except the command's declared `env`, its own process group
    (killed whole on timeout), limits on memory, CPU and output. StepFailed messages are ours
    only: nothing the command printed is in them (stderr goes to the log, filtered).
    """
    if not running_in_job():
        raise StepFailed("external steps run in the background worker only")
    output_bytes = command.max_output_kb * 1024
    program = shutil.which(command.argv[0]) or command.argv[0]
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        stdin.write(payload)
        stdin.seek(0)
        try:
            process = subprocess.Popen(
                [program, *command.argv[1:]],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=dict(command.env),
                cwd="/",
                start_new_session=True,  # its own process group, so a timeout kills its children too
                close_fds=True,
                preexec_fn=_limits(command, timeout, output_bytes),
            )
        except OSError as exc:
            raise StepFailed(f"could not start the command {command.name} ({type(exc).__name__})") from None
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            raise StepFailed(f"timed out after {timeout:g} s and was killed") from None
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        _kill_group(process)  # nothing it started outlives it
        stderr.seek(0)
        _log_stderr(command.name, stderr.read(output_bytes))
        stdout.seek(0)
        out = stdout.read(output_bytes + 1)
    if returncode == -signal.SIGXFSZ or len(out) > output_bytes:
        raise StepFailed(f"wrote more than {command.max_output_kb} KB and was stopped")
    if returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        raise StepFailed("used too much CPU time and was stopped")
    if returncode != 0:
        raise StepFailed(f"exited with status {returncode} (its error output is in the worker log)")
    return out


def external(reference: ReferenceSample, candidates: list[OrdinarySample], params: dict) -> Outcome:
    """Run a registered command with the samples as JSON on stdin; read its answer on stdout.

    stdin:  {"reference_sample": {...}, "ordinary_samples": [{...}, ...], "params": {...}}
    stdout: {"scores": {"<worker id>": number, ...}} in mode "score" (missing workers score 0),
            {"keep": [worker id, ...]} in mode "filter".
    Only commands operators registered run (app/matching/commands.py), in the worker only. A
    non-zero exit, a timeout, a limit or anything else on stdout raises StepFailed; the pipeline
    logs it and goes on without the step.
    """
    try:
        command = get_command(params.get("command"))
        args = check_args(command, params.get("args"))
    except CommandError as exc:
        raise StepFailed(f"the command {exc}") from None
    cap = min(float(current_app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"]), command.timeout_seconds)
    timeout = min(float(params.get("timeout_seconds", cap)), cap)
    mode = params.get("mode", "score")
    payload = json.dumps(
        {
            "reference_sample": reference.to_json(),
            "ordinary_samples": [c.to_json() for c in candidates],
            "params": args,
        }
    ).encode()
    stdout = run_command(command, payload, timeout)
    try:
        answer = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StepFailed("wrote no JSON on stdout") from None
    if not isinstance(answer, dict):
        raise StepFailed("wrote JSON that is not an object")
    known = {c.worker_id for c in candidates}
    if mode == "filter":
        keep = answer.get("keep")
        if not isinstance(keep, list):
            raise StepFailed('a filter must write {"keep": [worker ids]}')
        try:
            ids = {_worker_id(value) for value in keep}
        except ValueError:
            raise StepFailed("wrote something that is not a worker id in keep") from None
        return Outcome(keep=ids & known)
    scores = answer.get("scores")
    if not isinstance(scores, dict):
        raise StepFailed('a scoring step must write {"scores": {"<worker id>": number}}')
    result = {worker_id: 0.0 for worker_id in known}
    for key, value in scores.items():
        try:
            worker_id = _worker_id(key)
        except ValueError:
            raise StepFailed("wrote a score for something that is not a worker id") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise StepFailed(f"wrote a score for worker {worker_id} that is not a finite number")
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
