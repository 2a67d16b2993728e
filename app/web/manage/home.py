from flask import render_template
from sqlalchemy import func, select

from app.accounts.services import count_users_with_role
from app.extensions import db
from app.notifications.models import OutboxEmail
from app.orders.models import Order
from app.web.manage.blueprint import bp


@bp.route("/")
def home():
    email_counts = dict(db.session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)).all())
    return render_template(
        "manage/home.html",
        clients=count_users_with_role("client"),
        workers=count_users_with_role("worker"),
        email_counts=email_counts,
        order_counts=dict(db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()),
    )
