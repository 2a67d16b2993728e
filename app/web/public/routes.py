import hmac

from flask import Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from app.extensions import db
from app.platform import health as health_checks
from app.web.core.access import AUTHENTICATED, access
from app.web.core.navigation import home_url
from app.web.public.blueprint import bp
from app.web.shared.system import prometheus_text, system_figures


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


@bp.route("/baseline")
@access(AUTHENTICATED)
@login_required
def baseline():
    """The benchmarks' yardstick: what every page costs before its own work (docs/performance.md).

    It goes through what a real page does (the session, the logged-in user loaded from the
    database, the access rule, the layout template with its CSRF token and role links) and runs one
    trivial query, so a page's ratio to it is the price of that page's own queries and markup.
    /healthz skips all of that and stays the load balancers' probe."""
    return render_template("public/baseline.html", database_time=db.session.scalar(select(func.now())))


@bp.route("/readyz")
def ready():
    """For orchestrators: 200 when PostgreSQL, Redis and at least one live worker are there."""
    ok, checks = health_checks.readiness()
    return _no_store(jsonify({"status": "ready" if ok else "not ready", "checks": checks}), 200 if ok else 503)


@bp.route("/metrics")
def metrics():
    """Prometheus: the figures of /manage/system, for a bearer token or an allowed address."""
    if not _metrics_allowed():
        return Response("A metrics token or an allowed address is required.\n", 403, mimetype="text/plain")
    return Response(prometheus_text(system_figures()), mimetype=CONTENT_TYPE_LATEST)


def _metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    allowed = {part.strip() for part in (current_app.config.get("METRICS_ALLOWED_ADDRESSES") or "").split(",")}
    return request.remote_addr in allowed - {""}


@bp.route("/no-role")
@access(AUTHENTICATED)
@login_required
def no_role():
    return render_template("public/no_role.html")
