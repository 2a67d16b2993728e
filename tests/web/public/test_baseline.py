"""/baseline, the benchmarks' yardstick (bench/pages_load.py): the machinery of a real page (the
session, the logged-in user, the access rule, the layout template) and one trivial query."""

from __future__ import annotations

import pytest

from app.extensions import db as database
from tests.support.factories import FACTORY_FOR_ROLE
from tests.support.fixtures import login
from tests.support.web import count_statements


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get("/baseline")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["client", "worker", "manager", "supply"])
def test_every_signed_in_person_gets_the_layout_with_their_name(client, db, role):
    person = FACTORY_FOR_ROLE[role](name=f"Baseline {role}")
    login(client, person)
    client.get("/baseline")  # warm-up: the template compiled
    with count_statements(database.engine) as counter:
        response = client.get("/baseline")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert f'<span class="who">Baseline {role}</span>' in html and 'class="topbar"' in html
    assert 'name="csrf_token"' in html and "The database's time is" in html
    # The user and their roles (what every page pays), then the page's one query.
    assert counter[0] <= 5, counter[0]  # in tests a savepoint and its rollback are two more


def test_healthz_stays_the_load_balancers_probe(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
