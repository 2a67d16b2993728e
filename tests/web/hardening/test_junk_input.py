"""No 500s, whatever is sent: generated junk thrown at every form and every API endpoint.

Hypothesis draws a route (every rule of the app but logout and static files), ids in and beyond
PostgreSQL's integer range, query strings and form fields full of control characters, NUL bytes,
NaN/Infinity, huge numbers and long text, JSON bodies deeply nested or not JSON at all, and posts
them with a valid CSRF token as a person who holds every role. Each answer must be below 500, and a
refused request (4xx) must change nothing in the database.
"""

from __future__ import annotations

import io
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.accounts.models import ClientProfile, WorkerProfile
from app.accounts.services import create_api_token
from tests.support.factories import UserFactory
from tests.support.fixtures import csrf_token, login

SKIPPED = {"auth.logout", "static", "public.ready"}  # readyz answers 503 by design without a worker
FIELDS = [
    "email", "name", "address", "payment_method", "age", "breed", "coat_colour", "strengths", "weaknesses",
    "base_price", "duration_minutes", "skills", "consumables", "description", "reason", "amount", "kind",
    "params", "order_id", "order_number", "direction", "next", "day", "start", "service_type", "password",
    "confirm", "show", "worker_id", "page", "per_page", "q", "status", "tab", "account", "user", "preview",
    "invoices_page", "step1-name", "step1-params", "period", "photo",
]  # fmt: skip
NASTY = [
    "NaN", "Infinity", "-Infinity", "nan", "1e309", "-0", "0", "-1", "2147483647", "2147483648", "9" * 40,
    "\x00", "a\x00b", "a\r\nb", "\u2028", "\ufeff", "%00", "../../etc/passwd", "{}", "[]", "null", "1.005",
    "12,500", "١٢٣", "²", "<script>x</script>", "' OR 1=1 --", "x" * 5000, "",
]  # fmt: skip

junk_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str))
junk_fields = st.dictionaries(st.sampled_from(FIELDS), junk_text, max_size=6)
url_ids = st.one_of(st.integers(min_value=1, max_value=5), st.sampled_from([0, 2**31 - 1, 2**31, 10**20]))
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), junk_text
)
junk_json = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4),
    max_leaves=12,
)
raw_bodies = st.one_of(
    junk_json.map(json.dumps),
    st.sampled_from(['{"age": NaN}', '{"age": Infinity}', "[" * 5000 + "]" * 5000, '{"a":' * 3000, "\x00", "{"]),
    st.integers(min_value=1, max_value=200).map(lambda depth: '{"name": ' + "[" * depth + "]" * depth + "}"),
)


def table_counts(db) -> dict[str, int]:
    tables = [row[0] for row in db.session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
    query = " UNION ALL ".join(f"SELECT '{name}', count(*) FROM \"{name}\"" for name in tables)
    return dict(db.session.execute(text(query)).all())


def routes(app):
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method))
    return sorted(found)


def fill(rule: str, ids: list[int], token: str) -> str:
    values = iter(ids)
    path = re.sub(r"<int:\w+>", lambda _m: str(next(values)), rule)
    return re.sub(r"<(?:\w+:)?\w+>", lambda _m: quote(token, safe="") or "x", path)


@pytest.fixture
def everyone(client, db):
    """A person with every role, signed in: junk reaches each view past its access rule."""
    person = UserFactory(
        roles=("manager", "worker", "client", "supply", "bettor"),
        client_profile=ClientProfile(address="1 Junk Street", payment_method="card"),
        worker_profile=WorkerProfile(age=3, breed="Tabby", coat_colour="grey", strengths=["x"], weaknesses=[]),
    )
    login(client, person)
    token = create_api_token(person, "junk")
    db.session.flush()
    return client, csrf_token(client, "/manage/"), {"Authorization": f"Bearer {token}"}


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_junk_to_every_form_and_endpoint_is_never_a_500_and_a_refusal_changes_nothing(app, db, everyone, data):
    client, token, api_auth = everyone
    rule, method = data.draw(st.sampled_from(routes(app)), label="route")
    path = fill(rule, data.draw(st.lists(url_ids, min_size=3, max_size=3), label="ids"), data.draw(junk_text))
    query = data.draw(junk_fields, label="query")
    before = table_counts(db)
    if rule.startswith("/api/"):
        body = data.draw(raw_bodies, label="json") if method == "POST" else None
        response = client.open(
            path, method=method, query_string=query, data=body, content_type="application/json", headers=api_auth
        )
    elif method == "POST":
        form = data.draw(junk_fields, label="form")
        if "photo" in form:
            form["photo"] = (io.BytesIO(form["photo"].encode()), data.draw(st.sampled_from(["a.jpg", "b\x00.png"])))
        response = client.post(path, query_string=query, data={**form, "csrf_token": token})
    else:
        response = client.get(path, query_string=query)
    event(f"{method} {response.status_code}")
    assert response.status_code < 500, (method, path, query, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert table_counts(db) == before, (method, path, response.status_code)
