"""Every route has an access rule, and every role gets what the rule says (US-280 for the tote)."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter, PathConverter

from app.accounts.services import create_staff, grant_role
from app.platform.validation import ValidationError
from app.web.core.access import API_TOKEN, AUTHENTICATED, PUBLIC, ROLE_RULES, endpoint_access
from tests.support.factories import FACTORY_FOR_ROLE, ManagerFactory
from tests.support.fixtures import isolated_client, login
from tests.support.web import config_values

# (label, factory or None for anonymous): "manager+bettor" is the bettor factory (US-280).
PEOPLE = {
    "anonymous": None,
    "client": FACTORY_FOR_ROLE["client"],
    "worker": FACTORY_FOR_ROLE["worker"],
    "manager": FACTORY_FOR_ROLE["manager"],
    "manager+bettor": FACTORY_FOR_ROLE["bettor"],
    "supply": FACTORY_FOR_ROLE["supply"],
}
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}  # Flask derives these from GET; the guard treats them alike


def dummy_values(rule) -> dict:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            values[name] = 999999
        elif isinstance(converter, PathConverter):
            values[name] = "css/app.css"
        else:
            values[name] = "dummy"
    return values


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule and method of the app."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - AUTOMATIC_METHODS):
            url = adapter.build(rule.endpoint, dummy_values(rule), method=method)
            found.append((rule.endpoint, method, url))
    # Log out last, so the rest of the walk happens logged in.
    return sorted(found, key=lambda item: item[0] == "auth.logout")


def test_every_route_has_an_access_rule(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules() if not endpoint_access(app, rule.endpoint)})
    assert not missing, f"routes without an access rule (use guarded_blueprint / @access): {missing}"
    known = {PUBLIC, AUTHENTICATED, API_TOKEN, *ROLE_RULES}
    unknown = {rule.endpoint: endpoint_access(app, rule.endpoint) for rule in app.url_map.iter_rules()}
    assert {name: rule for name, rule in unknown.items() if rule not in known} == {}


def test_matrix_covers_the_known_areas(app):
    rules = {endpoint_access(app, endpoint) for endpoint, _method, _url in routes(app)}
    assert {PUBLIC, AUTHENTICATED, API_TOKEN, "client", "worker", "manager", "bettor", "supply"} <= rules


def _request(client, method: str, url: str, htmx: bool = False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.open(url, method=method, headers=headers, data={})


def _check(app, person: str, roles: frozenset[str], endpoint: str, method: str, response, htmx: bool) -> str | None:
    """None if the answer fits the route's rule, else a description of what is wrong."""
    rule = endpoint_access(app, endpoint)
    status = response.status_code
    where = f"{person} {method} {endpoint} (rule {rule}{', htmx' if htmx else ''}) -> {status}"
    if endpoint == "public.ready" and status == 503:
        return None  # "not ready" is a 503 by design: no worker runs during this test
    if status >= 500:
        return where
    if rule == PUBLIC:
        return where if status in (401, 403) else None
    if rule == API_TOKEN:
        ok = status == 401 and response.is_json and "WWW-Authenticate" in response.headers
        return None if ok else where
    if person == "anonymous":
        if htmx:
            ok = status == 401 and response.headers.get("HX-Redirect", "").startswith("/login")
        else:
            ok = status == 302 and response.headers["Location"].startswith("/login")
        return None if ok else where
    if rule == AUTHENTICATED or rule in roles:
        return where if status in (401, 403) else None
    return None if status == 403 else where


def test_access_matrix_for_every_route_and_role(app, db):
    """US-280 among others: each role reaches its own pages and only those; the API wants a token."""
    problems = []
    with config_values(
        app, WTF_CSRF_ENABLED=False, LOGIN_LIMIT_PER_IP="1000 per minute", LOGIN_LIMIT_PER_ACCOUNT="1000 per minute"
    ):
        for person, factory in PEOPLE.items():
            client = isolated_client(app)
            user = factory() if factory else None
            roles = frozenset(user.roles) if user else frozenset()
            if user:
                login(client, user)
            for endpoint, method, url in routes(app):
                response = _request(client, method, url)
                problems.append(_check(app, person, roles, endpoint, method, response, htmx=False))
                if person == "anonymous":
                    response = _request(client, method, url, htmx=True)
                    problems.append(_check(app, person, roles, endpoint, method, response, htmx=True))
                if user and endpoint == "auth.logout" and response.status_code == 303:
                    login(client, user)
    problems = [problem for problem in problems if problem]
    assert not problems, "\n".join(problems)


def test_a_logged_in_manager_still_needs_a_token_for_the_api(client, db):
    manager = ManagerFactory()
    login(client, manager)
    response = client.get("/api/v1/clients")
    assert response.status_code == 401
    assert response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_us280_manager_without_bettor_role_gets_403_on_the_tote(client, db):
    manager = ManagerFactory()
    login(client, manager)
    assert client.get("/tote/").status_code == 403
    assert client.get("/manage/").status_code == 200


def test_us280_manager_with_bettor_role_reaches_the_tote(client, db):
    bettor = FACTORY_FOR_ROLE["bettor"]()
    assert bettor.roles == {"manager", "bettor"}
    login(client, bettor)
    assert client.get("/tote/").status_code == 200


def test_us280_bettor_role_alone_is_impossible(db):
    with pytest.raises(ValidationError) as raised:
        create_staff("lonely-bettor@example.com", "Lonely", ["bettor"])
    assert "roles" in raised.value.errors
    client = FACTORY_FOR_ROLE["client"]()
    with pytest.raises(ValidationError):
        grant_role(client, "bettor")
    assert "bettor" not in client.roles


def test_a_route_outside_guarded_blueprints_has_no_rule():
    """What the first test catches: a plain blueprint or app route gets no rule at all."""
    from flask import Blueprint, Flask

    scratch = Flask(__name__)
    plain = Blueprint("plain", __name__)
    plain.add_url_rule("/plain", "page", lambda: "hi")
    scratch.register_blueprint(plain)
    scratch.add_url_rule("/bare", "bare", lambda: "hi")
    assert endpoint_access(scratch, "plain.page") is None
    assert endpoint_access(scratch, "bare") is None
