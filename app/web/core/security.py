"""Security headers (flask-talisman), the login loader, and the htmx `Vary` header."""

from __future__ import annotations

from flask import Flask, request, session
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import login_manager
from app.web.core import input_guard
from app.web.core.login_gate import LoginGate

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
}


def _same_browser() -> bool:
    """flask-login's "strong" protection, kept for permanent sessions too.

    flask-login only marks a permanent session "not fresh" when the browser's identifier (address
    and user agent) changes; a copied cookie would keep working. Here it opens nothing.
    """
    from flask_login.utils import _create_identifier

    return session.get("_id") == _create_identifier()


def install(app: Flask) -> None:
    if app.config["LOGIN_GATE_SECONDS"] > 0:
        # Inside ProxyFix (wrapped below), so it sees the client's address, not the proxy's.
        app.wsgi_app = LoginGate(app.wsgi_app, app.config["LOGIN_GATE_SECONDS"])
    if app.config.get("TRUSTED_PROXIES", 0) > 0:
        # Only the configured number of proxies is trusted for the client's address and scheme:
        # without this, every user behind the proxy shares its address (and its login limits).
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    Talisman(
        app,
        force_https=False,  # TLS ends at the proxy; HSTS below tells browsers to stay on it
        strict_transport_security=app.config["HSTS"],
        strict_transport_security_max_age=31536000,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        x_content_type_options=True,
    )

    input_guard.install(app)

    @login_manager.user_loader
    def load_user(session_id: str):
        from app.accounts.services import load_session_user

        if not _same_browser():
            return None
        return load_session_user(session_id, session.get("sid"))

    @app.after_request
    def no_store_when_signed_in(response):
        # Pages of a signed-in person must not be kept by the browser or any cache in between.
        if "_user_id" in session or request.headers.get("Authorization"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.after_request
    def vary_on_htmx(response):
        # The same URL answers a full page or a fragment; caches must keep them apart.
        response.vary.add("HX-Request")
        return response
