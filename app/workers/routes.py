from flask import render_template

from app.workers import bp


@bp.route("/")
def home():
    return render_template("workers/home.html")
