"""Error pages: full pages for browsers, fragments for htmx, JSON for the API."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.web.core.htmx import is_htmx

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "The upload is too large.",
    422: "Some of what was sent cannot be accepted.",
    429: "Too many attempts. Wait a little and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "Something went wrong.")
    if wants_json():
        return jsonify({"error": message}), status
    if is_htmx():
        return render_template("errors/_error.html", status=status, message=message), status
    return render_template("errors/error.html", status=status, message=message), status


# Pages that need nothing (no template, no database, no session): read once at start.
STATIC_PAGES = Path(__file__).resolve().parents[3] / "static" / "errors"
DATABASE_DOWN_SECONDS = 30


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (refused, gone, timed out), as opposed to a bug in a query."""
    import psycopg

    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error.orig, psycopg.OperationalError | psycopg.InterfaceError)
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def static_page(app: Flask, status: int) -> Response:
    """The fixed page for `status`, or its JSON for the API; sent even when nothing else works."""
    message = "The service is unavailable; try again in a minute." if status == 503 else MESSAGES[500]
    if request.path.startswith("/api/"):
        response = Response(f'{{"error": "{message}"}}', status=status, mimetype="application/json")
    else:
        response = Response(app.extensions["mcf_static_pages"][status], status=status, mimetype="text/html")
    if status == 503:
        response.headers["Retry-After"] = str(DATABASE_DOWN_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.extensions["mcf_static_pages"] = {
        status: (STATIC_PAGES / f"{status}.html").read_bytes() for status in (500, 503)
    }

    def safe_render(status: int, message: str | None = None):
        """The error page; if drawing it fails (it needs the session and so the database), a static one."""
        try:
            return app.make_response(render_error(status, message))
        except Exception as failure:
            if database_unavailable(failure):
                return static_page(app, 503)
            log.exception("the error page failed")
            return static_page(app, 500)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return safe_render(400, "Your form expired or was not sent from this site. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        response = safe_render(error.code)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        try:
            from app.extensions import db

            db.session.rollback()
        except Exception:  # the page must still render
            log.warning("rollback after error failed", exc_info=True)
        if database_unavailable(error):
            log.error("database unavailable on %s %s: %s", request.method, request.path, error.__class__.__name__)
            return static_page(app, 503)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return safe_render(InternalServerError.code)
