"""Bulk import of clients from the parent company (US-010): CSV or JSON, idempotent by email."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from app.accounts.services import create_client, find_user_by_email
from app.platform.validation import DuplicateError, ValidationError

COLUMNS = ("email", "name", "address", "payment_method", "phone")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


def read_rows(path: Path) -> list[dict]:
    """Rows from a .json file (a list of objects) or a CSV with a header line."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("A JSON import must be a list of objects.")
        return data
    return list(csv.DictReader(io.StringIO(text)))


def import_clients(rows: list) -> ImportReport:
    """Create each new client (with an invitation); skip known emails; report bad rows."""
    report = ImportReport()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            report.invalid.append((number, "not an object"))
            continue
        email = row.get("email")
        if isinstance(email, str) and find_user_by_email(email) is not None:
            report.skipped.append(email.strip().lower())
            continue
        try:
            # Every column is passed, a missing one as None, so a row without it is reported, not fatal.
            user = create_client(**{name: row.get(name) for name in COLUMNS})
        except DuplicateError:  # the same email twice in one file
            report.skipped.append(str(email).strip().lower())
        except ValidationError as exc:
            reasons = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.errors.items())
            report.invalid.append((number, reasons))
        else:
            report.created.append(user.email)
    return report
