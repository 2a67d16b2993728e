"""htmx, one way: a page answers htmx requests with its fragment (`_x.html`) and browsers without
JavaScript with the whole page, which includes the same fragment. A page with several parts that
refresh on their own picks the part by the element htmx targets (`HX-Target`). Every response
varies on `HX-Request` (app.web.core.security), so caches keep the two apart."""

from __future__ import annotations

from flask import render_template
from htmx_flask import request


def is_htmx() -> bool:
    """An htmx request for a part of the page; a history restore wants the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def htmx_target() -> str | None:
    """The id of the element an htmx request will swap, or None for a whole-page request."""
    return request.htmx.target if is_htmx() else None


def page_or_fragment(page_template: str, fragment_template: str, status_code: int = 200, /, **context):
    """Render the fragment for htmx, the page otherwise, with the same context."""
    return render_template(fragment_template if is_htmx() else page_template, **context), status_code
