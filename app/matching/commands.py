"""The external commands a matching step may run, registered by operators, never from the web.

Operators list them in a TOML file (`MATCHING_COMMANDS_FILE`, by default
`instance/matching_commands.toml`), one table per command:

    [commands.perl-scorer]
    argv = ["/usr/bin/perl", "/opt/mcf/steps/score.pl"]  # program and fixed arguments
    env = { MODEL = "/opt/mcf/steps/model.json" }         # the only environment it gets
    params = ["threshold", "bias"]                         # what a manager may set (sent on stdin)
    timeout_seconds = 3                                    # limits (defaults below)
    memory_mb = 512
    max_output_kb = 1024

Managers choose a command by its name and set the values of its declared params; those values
travel in the JSON on stdin, never on the command line. A test (or an embedding) may set the
`MATCHING_COMMANDS` config key to the same structure instead of a file.
"""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from app.platform.validation import control_character_error

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 512
DEFAULT_MAX_OUTPUT_KB = 1024
MAX_PARAM_TEXT = 200


class CommandError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    timeout_seconds: float = 5.0
    memory_mb: int = DEFAULT_MEMORY_MB
    max_output_kb: int = DEFAULT_MAX_OUTPUT_KB


def _positive(spec: dict, key: str, default, kind=float):
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise CommandError(f"{key} must be a positive number")
    return kind(value)


def parse_command(name: str, spec: dict) -> Command:
    """A registered command from its table, or CommandError saying what is wrong."""
    if not isinstance(spec, dict):
        raise CommandError("must be a table")
    unknown = set(spec) - {"argv", "env", "params", "timeout_seconds", "memory_mb", "max_output_kb"}
    if unknown:
        raise CommandError(f"unknown keys {sorted(unknown)}")
    argv = spec.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a and "\x00" not in a for a in argv):
        raise CommandError("argv must be a non-empty list of strings")
    env = spec.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise CommandError("env must map names to strings")
    params = spec.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) and p.isidentifier() for p in params):
        raise CommandError("params must be a list of names")
    return Command(
        name=name,
        argv=tuple(argv),
        env=dict(env),
        params=tuple(params),
        timeout_seconds=_positive(spec, "timeout_seconds", current_app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"]),
        memory_mb=_positive(spec, "memory_mb", DEFAULT_MEMORY_MB, int),
        max_output_kb=_positive(spec, "max_output_kb", DEFAULT_MAX_OUTPUT_KB, int),
    )


def _raw_registry() -> dict:
    configured = current_app.config.get("MATCHING_COMMANDS")
    if configured is not None:
        return configured
    path = Path(current_app.config["MATCHING_COMMANDS_FILE"])
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text()).get("commands", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.error("cannot read the matching commands in %s: %s", path, exc)
        return {}


def registered_commands() -> dict[str, Command]:
    """Every valid registered command by name; an invalid entry is logged and left out."""
    commands = {}
    for name, spec in _raw_registry().items():
        try:
            commands[name] = parse_command(name, spec)
        except CommandError as exc:
            log.error("matching command %r is ignored: %s", name, exc)
    return commands


def get_command(name) -> Command:
    commands = registered_commands()
    if isinstance(name, str) and name in commands:
        return commands[name]
    if not commands:
        raise CommandError("must name a registered command, and operators have registered none yet")
    raise CommandError(f"must be one of the registered commands: {', '.join(sorted(commands))}")


def check_args(command: Command, args) -> dict:
    """A manager's values for the command's declared params: numbers, yes/no, or one line of text."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise CommandError("must be a JSON object of the command's parameters")
    clean = {}
    for key, value in args.items():
        if key not in command.params:
            allowed = ", ".join(command.params) or "none"
            raise CommandError(f"has “{key}”, which {command.name} does not take (it takes: {allowed})")
        if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            clean[key] = value
        elif isinstance(value, str) and len(value) <= MAX_PARAM_TEXT and not control_character_error(value):
            clean[key] = value
        else:
            raise CommandError(f"“{key}” must be a number, true/false, or one line of text")
    return clean
