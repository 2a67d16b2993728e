"""Support for the billing-run tests (US-220, US-230, US-304): money posted straight into the
ledger (the postings contract), runs executed with an explicit `now`, and the ledger invariant
checked after every test."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.billing import ledger


@pytest.fixture
def money(committed_db, app):
    """The committed database, with the ledger invariant asserted at the end of the test."""
    yield committed_db
    committed_db.session.rollback()
    assert ledger.unbalanced_transactions() == []


@pytest.fixture
def zone(app, monkeypatch):
    """Set the company time zone for the test: zone("America/New_York") returns a local-time maker."""

    def use(name: str):
        monkeypatch.setitem(app.config, "COMPANY_TIMEZONE", name)
        tz = ZoneInfo(name)
        return lambda *parts: datetime(*parts, tzinfo=tz)

    return use
