"""Absolute links for mail bodies and webhooks: jobs have no request, so links are built from
PUBLIC_BASE_URL (its scheme, host and path prefix) with the app's own URL map."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` as people reach it (PUBLIC_BASE_URL), e.g. for a mail."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
