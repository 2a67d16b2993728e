"""Error pages: full pages for browsers, fragments for htmx, JSON for the API."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
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


def install(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, "Your form expired or was not sent from this site. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        response = app.make_response(render_error(error.code))
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            from app.extensions import db

            db.session.rollback()
        except Exception:  # the page must still render
            log.exception("rollback after error failed")
        return render_error(InternalServerError.code)
