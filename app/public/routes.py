from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from app.extensions import db
from app.public import bp
from app.web.access import AUTHENTICATED, access
from app.web.navigation import home_url


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
