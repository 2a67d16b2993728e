"""Security headers (flask-talisman), the login loader, and the htmx `Vary` header."""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

from app.extensions import login_manager
from app.web.core import input_guard

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


def install(app: Flask) -> None:
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

        return load_session_user(session_id)

    @app.after_request
    def vary_on_htmx(response):
        # The same URL answers a full page or a fragment; caches must keep them apart.
        response.vary.add("HX-Request")
        return response
