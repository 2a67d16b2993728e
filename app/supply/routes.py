from flask import render_template

from app.supply import bp


@bp.route("/")
def home():
    return render_template("supply/home.html")
