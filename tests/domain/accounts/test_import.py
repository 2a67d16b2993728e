"""Bulk import of the parent company's testers as clients (US-010): `flask clients import FILE`."""

from __future__ import annotations

import json

import pytest

from app.accounts.imports import import_clients
from tests.support.factories import ClientFactory
from tests.support.web import events_of, row_counts, user_by_email

CSV = """email,name,address,payment_method
alice@example.com,Alice,1 Toy Lane,card
Bob@Example.com,Bob,,bank_transfer
not-an-email,Broken,,card
carol@example.com,,,card
dave@example.com,Dave,,bitcoin
ALICE@example.com,Alice Again,,card
"""

JSON_ROWS = [
    {"email": "erin@example.com", "name": "Erin", "address": "5 Toy Lane"},
    {"email": "frank@example.com", "name": "Frank", "payment_method": "bank_transfer"},
    {"name": "No Email"},
    {"email": "grace@example.com"},
    {"email": "heidi@example.com", "name": "Heidi", "payment_method": ["card"]},
    "not an object",
    {"email": 7, "name": "Seven"},
]


def run_import(app, path):
    return app.test_cli_runner().invoke(args=["clients", "import", str(path)])


def _report(output: str) -> dict[str, int]:
    lines = dict(line.split(": ", 1) for line in output.splitlines() if not line.startswith("  "))
    return {
        "created": int(lines["created"]),
        "skipped": int(lines["skipped (already there)"]),
        "invalid": int(lines["invalid"]),
    }


def test_us010_csv_import_reports_created_skipped_and_invalid(app, db, tmp_path):
    ClientFactory(email="bob@example.com")
    path = tmp_path / "testers.csv"
    path.write_text(CSV)
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert _report(result.output) == {"created": 1, "skipped": 2, "invalid": 3}
    assert "row 3: email:" in result.output
    assert "row 4: name: This field is required." in result.output
    assert "row 5: payment_method:" in result.output
    alice = user_by_email(db, "alice@example.com")
    assert alice.roles == {"client"}
    assert alice.client_profile.address == "1 Toy Lane"
    assert user_by_email(db, "carol@example.com") is None


def test_us010_json_import(app, db, tmp_path):
    path = tmp_path / "testers.json"
    path.write_text(json.dumps(JSON_ROWS))
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert _report(result.output) == {"created": 2, "skipped": 0, "invalid": 5}
    assert "row 3: email: Email is required." in result.output
    assert "row 4: name: This field is required." in result.output
    assert "row 5: payment_method:" in result.output
    assert "row 6: not an object" in result.output
    assert "row 7: email:" in result.output
    frank = user_by_email(db, "frank@example.com")
    assert frank.client_profile.payment_method == "bank_transfer"


@pytest.mark.parametrize(("name", "content"), [("t.csv", CSV), ("t.json", json.dumps(JSON_ROWS))])
def test_us010_import_twice_creates_nothing_new_and_invites_new_clients_only(app, db, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    first = run_import(app, path)
    created = _report(first.output)["created"]
    assert created == 2  # alice and bob, or erin and frank
    invitations = events_of(db, "account.invitation_sent")
    assert len(invitations) == created
    counts = row_counts(db)
    second = run_import(app, path)
    assert second.exit_code == 0, second.output
    report = _report(second.output)
    assert report["created"] == 0
    assert report["skipped"] >= created
    assert row_counts(db) == counts
    assert events_of(db, "account.invitation_sent") == invitations


def test_import_service_report(db):
    ClientFactory(email="known@example.com")
    report = import_clients(
        [
            {"email": "Known@Example.com", "name": "Known"},
            {"email": "new@example.com", "name": "New"},
            {"email": "new@example.com", "name": "New twice"},
            {"email": "x", "name": "X"},
        ]
    )
    assert report.created == ["new@example.com"]
    assert report.skipped == ["known@example.com", "new@example.com"]
    assert [number for number, _reason in report.invalid] == [4]
    [invitation] = events_of(db, "account.invitation_sent")
    assert invitation.payload["email"] == "new@example.com"


def test_import_refuses_a_json_file_that_is_not_a_list(app, db, tmp_path):
    path = tmp_path / "object.json"
    path.write_text(json.dumps({"email": "a@example.com"}))
    before = row_counts(db)
    result = run_import(app, path)
    assert result.exit_code != 0
    assert "must be a list" in result.output
    assert row_counts(db) == before


def test_import_refuses_broken_json(app, db, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[{")
    result = run_import(app, path)
    assert result.exit_code != 0
    assert "Cannot read" in result.output


def test_import_of_a_csv_without_a_name_column_reports_every_row(app, db, tmp_path):
    path = tmp_path / "no-name.csv"
    path.write_text("email\nzed@example.com\n")
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert _report(result.output) == {"created": 0, "skipped": 0, "invalid": 1}


def test_import_reads_a_csv_with_a_byte_order_mark(app, db, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffemail,name\nbom@example.com,Bom\n".encode())
    result = run_import(app, path)
    assert _report(result.output)["created"] == 1
    assert user_by_email(db, "bom@example.com") is not None
