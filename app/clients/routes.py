from flask import render_template

from app.clients import bp


@bp.route("/")
def home():
    return render_template("clients/home.html")
