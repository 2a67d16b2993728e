"""The tote ledger's invariant after every test of this folder: every transaction sums to zero."""

from __future__ import annotations

import pytest

from app.tote import ledger


@pytest.fixture(autouse=True)
def tote_ledger_stays_balanced(request):
    mode = "committed_db" if "committed_db" in request.fixturenames else "db"
    database_ = request.getfixturevalue(mode)
    yield
    if mode == "committed_db":
        database_.session.rollback()
    assert ledger.unbalanced_transactions() == []
