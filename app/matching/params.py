"""What each kind of step accepts as parameters, checked before anything is saved.

A step's params are a JSON object; each kind lists its keys with a checker that returns the clean
value or raises ParamError with a message a manager can act on. Unknown keys are refused, so a
typo does not silently do nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from flask import current_app

from app.platform.validation import ValidationError


class ParamError(ValueError):
    pass


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ParamError("must be a number")
        if not low <= value <= high:
            raise ParamError(f"must be between {low:g} and {high:g}")
        return value

    return check


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError("must be a whole number")
        if not low <= value <= high:
            raise ParamError(f"must be between {low} and {high}")
        return value

    return check


def _command(value: Any) -> str:
    """The name of a command operators registered (app/matching/commands.py); never an argv."""
    from app.matching.commands import CommandError, get_command

    try:
        return get_command(value).name
    except CommandError as exc:
        raise ParamError(str(exc)) from None


def _args(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ParamError("must be a JSON object of the command's parameters")
    return value  # checked against the command's declared params in `check_params`


def _mode(value: Any) -> str:
    if value not in ("score", "filter"):
        raise ParamError('must be "score" or "filter"')
    return value


def _timeout(value: Any) -> float:
    cap = float(current_app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"])
    return _number(0.1, cap)(value)


WEIGHT = _number(-1000, 1000)

# kind -> (label, {key: (checker, required)}, default params for a new step)
KINDS: dict[str, tuple[str, dict[str, tuple[Callable[[Any], Any], bool]], dict]] = {
    "free_at_slot": (
        "Filter: free at that time",
        {"buffer_minutes": (_integer(0, 24 * 60), True)},
        {"buffer_minutes": 30},
    ),
    "strengths": ("Score: strengths for the service", {"weight": (WEIGHT, True)}, {"weight": 2.0}),
    "past_results": (
        "Score: past results",
        {"weight": (WEIGHT, True), "prior": (_number(0.01, 1000), False), "quality_weight": (WEIGHT, False)},
        {"weight": 3.0},
    ),
    "current_load": (
        "Score: current load",
        {"weight": (WEIGHT, True), "days": (_integer(1, 90), True)},
        {"weight": 1.0, "days": 7},
    ),
    "tie_break": (
        "Score: seeded tie-break",
        {"weight": (WEIGHT, True), "seed": (_integer(-(2**31), 2**31 - 1), True)},
        {"weight": 0.01, "seed": 73},
    ),
    "external": (
        "External command (any language)",
        {
            "command": (_command, True),
            "args": (_args, False),
            "timeout_seconds": (_timeout, False),
            "weight": (WEIGHT, False),
            "mode": (_mode, True),
        },
        {"command": "name-of-a-registered-command", "args": {}, "weight": 1.0, "mode": "score"},
    ),
}


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, label) for kind, (label, _schema, _default) in KINDS.items()]


def default_params(kind: str) -> dict:
    return json.loads(json.dumps(KINDS[kind][2]))


def parse_params_text(text: str | None) -> dict:
    """The params field of a form: a JSON object, or a ValidationError on `params`."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(params='Enter the parameters as a JSON object, e.g. {"weight": 1}.')
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(params=f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    if not isinstance(value, dict):
        raise ValidationError(params="The parameters must be a JSON object ({...}).")
    return value


def check_params(kind: str, params: dict) -> dict:
    """The clean params for a kind, or a ValidationError on `params` listing every problem."""
    if kind not in KINDS:
        raise ValidationError(kind="Choose a kind of step.")
    if not isinstance(params, dict):
        raise ValidationError(params="The parameters must be a JSON object ({...}).")
    _label, schema, _default = KINDS[kind]
    problems = []
    clean = {}
    for key, (checker, required) in schema.items():
        if key not in params:
            if required:
                problems.append(f"“{key}” is required.")
            continue
        try:
            clean[key] = checker(params[key])
        except ParamError as exc:
            problems.append(f"“{key}” {exc}.")
    for key in params:
        if key not in schema:
            problems.append(f"Unknown parameter “{key}” (allowed: {', '.join(schema)}).")
    if kind == "external" and "command" in clean and "args" in clean:
        from app.matching.commands import CommandError, check_args, get_command

        try:
            clean["args"] = check_args(get_command(clean["command"]), clean["args"])
        except CommandError as exc:
            problems.append(f"“args” {exc}.")
    if problems:
        raise ValidationError({"params": problems})
    return clean
