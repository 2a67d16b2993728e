"""The commit rule (ARCHITECTURE.md): services only flush; the view or the job that owns the
transaction commits. A commit may appear only in web views, job modules, the billing process
modules (app/billing/processes/, named so the exception is visible), the CLI and the demo loader's
caller. This test reads the source, so a commit slipped into a service fails it."""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
COMMIT = re.compile(r"\.commit\(")


def commit_allowed(relative: Path) -> bool:
    return (
        relative.parts[0] == "web"
        or relative.name == "jobs.py"
        or relative.parts[:2] == ("billing", "processes")
        or relative == Path("cli.py")
    )


def commits_outside_the_allowed_places(root: Path = APP) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if COMMIT.search(code) and not commit_allowed(relative):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_services_only_flush():
    assert commits_outside_the_allowed_places() == []


def test_the_rule_catches_a_commit_in_a_service(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "services.py").write_text("def oops():\n    db.session.commit()\n")
    (tmp_path / "orders" / "jobs.py").write_text("def fine():\n    db.session.commit()\n")
    assert commits_outside_the_allowed_places(tmp_path) == ["orders/services.py:2: db.session.commit()"]
