"""Links in mail are built from PUBLIC_BASE_URL with the app's own routes (no request needed)."""

from __future__ import annotations

import pytest

from app.platform.urls import external_url
from tests.support.web import config_values


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/client/orders/7/rebook"),
        ("https://mcf.example", "https://mcf.example/client/orders/7/rebook"),
        ("https://example.org/mcf/", "https://example.org/mcf/client/orders/7/rebook"),
    ],
)
def test_external_url_uses_the_public_base_url(app, base, expected):
    with app.app_context(), config_values(app, PUBLIC_BASE_URL=base):
        assert external_url("clients.rebook_order", order_id=7) == expected


def test_query_values_and_unknown_endpoints(app):
    from werkzeug.routing import BuildError

    with app.app_context(), config_values(app, PUBLIC_BASE_URL="https://mcf.example"):
        assert external_url("auth.reset_password", token="a b") == "https://mcf.example/reset-password/a%20b"
        with pytest.raises(BuildError):
            external_url("no.such_page")
