from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

from app.web.core.templating import ROLE_HOMES


def home_url(user) -> str:
    """The home of the person's first role (managers first), or the login page."""
    for role, endpoint, _label in ROLE_HOMES:
        if user.has_role(role):
            return url_for(endpoint)
    return url_for("public.no_role")


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (a `next` to go to after a form), else None.

    Browsers drop tabs and newlines inside URLs ("/<tab>/evil.example" becomes "//evil.example")
    and read a backslash as a slash, so any control character or backslash is refused.
    """
    if not target or "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
