from flask import render_template

from app.accounts.models import PAYMENT_METHODS
from app.clients import bp


@bp.route("/")
def home():
    return render_template("clients/home.html", payment_methods=PAYMENT_METHODS)
