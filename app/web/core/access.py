"""Who may reach which route, declared in one place per blueprint.

Every blueprint is built by `guarded_blueprint()` with an access rule; a view may override it
with `@access(...)`. The access-matrix test walks every registered route and fails for any route
without a rule, so a new page cannot ship unguarded by accident.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from app.web.core.htmx import is_htmx

PUBLIC = "public"  # anyone, logged in or not
AUTHENTICATED = "authenticated"  # any logged-in person
API_TOKEN = "api-token"  # a manager's bearer token
ROLE_RULES = ("client", "worker", "manager", "bettor", "supply")


def access(rule: str) -> Callable:
    """Override the blueprint's rule for one view (e.g. a public page in a guarded blueprint)."""

    def mark(view: Callable) -> Callable:
        view.access_rule = rule
        return view

    return mark


def endpoint_access(app: Flask, endpoint: str) -> str | None:
    view = app.view_functions.get(endpoint)
    if view is not None and getattr(view, "access_rule", None):
        return view.access_rule
    if endpoint == "static":
        return PUBLIC
    blueprint_name = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
    blueprint = app.blueprints.get(blueprint_name) if blueprint_name else None
    return getattr(blueprint, "access_rule", None)


def login_redirect():
    """Anonymous visitors go to /login; htmx follows an HX-Redirect instead of a 302."""
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if is_htmx():
        response = current_app.make_response(("", 401))
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def check_access(rule: str):
    """None if the current request may proceed, else the response that refuses it."""
    if rule == PUBLIC or rule == API_TOKEN:  # the API checks its token itself
        return None
    if not current_user.is_authenticated:
        return login_redirect()
    if rule == AUTHENTICATED:
        return None
    if not current_user.has_role(rule):
        abort(403)
    return None


def guarded_blueprint(name: str, import_name: str, rule: str, **options) -> Blueprint:
    """A blueprint whose every view requires `rule` unless the view says otherwise."""
    if rule not in (PUBLIC, AUTHENTICATED, API_TOKEN, *ROLE_RULES):
        raise ValueError(f"unknown access rule {rule!r}")
    blueprint = Blueprint(name, import_name, **options)
    blueprint.access_rule = rule

    @blueprint.before_request
    def _guard():
        view = current_app.view_functions.get(request.endpoint)
        return check_access(getattr(view, "access_rule", None) or rule)

    return blueprint
