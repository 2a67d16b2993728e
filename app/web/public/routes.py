from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.platform import health as health_checks
from app.web.core.access import AUTHENTICATED, access
from app.web.core.navigation import home_url
from app.web.public.blueprint import bp


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


def _no_store(response, status: int):
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def health():
    """For load balancers: 200 when the database answers, 503 when it does not."""
    ok, detail = health_checks.check_database()
    if not ok:
        return _no_store(jsonify({"status": "unavailable", "database": detail}), 503)
    return _no_store(jsonify({"status": "ok"}), 200)


@bp.route("/readyz")
def ready():
    """For orchestrators: 200 when PostgreSQL, Redis and at least one live worker are there."""
    ok, checks = health_checks.readiness()
    return _no_store(jsonify({"status": "ready" if ok else "not ready", "checks": checks}), 200 if ok else 503)


@bp.route("/no-role")
@access(AUTHENTICATED)
@login_required
def no_role():
    return render_template("public/no_role.html")
