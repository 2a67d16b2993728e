from __future__ import annotations

from flask import url_for

from app.web.templating import ROLE_HOMES


def home_url(user) -> str:
    """The home of the person's first role (managers first), or the login page."""
    for role, endpoint, _label in ROLE_HOMES:
        if user.has_role(role):
            return url_for(endpoint)
    return url_for("public.no_role")
