from flask import render_template

from app.web.tote.blueprint import bp


@bp.route("/")
def home():
    return render_template("tote/home.html")
