from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from app.extensions import db
from app.web.core.access import AUTHENTICATED, access
from app.web.core.navigation import home_url
from app.web.public.blueprint import bp


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/healthz")
def health():
    """For load balancers: answers 200 when the database does."""
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.route("/no-role")
@access(AUTHENTICATED)
@login_required
def no_role():
    return render_template("public/no_role.html")
