"""The tote stands apart (US-290): it imports no other domain's code except events, accounts and
notifications, and `make lint` has a contract that fails if it does."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("app.events", "app.accounts", "app.notifications", "app.platform", "app.extensions", "app.tote")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_tote_imports_only_what_it_may():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "app" / "tote").rglob("*.py")
        for module in imported_modules(path)
        if module.startswith("app") and not module.startswith(ALLOWED)
    }
    assert offending == set()


def test_make_lint_has_the_contract_that_keeps_it_apart():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    apart = [c for c in contracts if c["type"] == "forbidden" and c["source_modules"] == ["app.tote"]]
    assert apart and set(apart[0]["forbidden_modules"]) >= {"app.orders", "app.matching", "app.billing", "app.supplies"}
