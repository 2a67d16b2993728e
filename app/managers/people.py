"""Managers create clients and workers one by one (US-010); creation is synchronous."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.managers import bp
from app.managers.forms import ClientForm, WorkerForm, apply_service_errors
from app.validation import DuplicateError, ValidationError
from app.web.pagination import page_args

PEOPLE = {
    "client": {
        "title": "Clients",
        "form": ClientForm,
        "create": lambda form: accounts.create_client(
            form.email.data, form.name.data, form.address.data, form.payment_method.data
        ),
        "profile": User.client_profile,
    },
    "worker": {
        "title": "Workers",
        "form": WorkerForm,
        "create": lambda form: accounts.create_worker(
            form.email.data,
            form.name.data,
            form.age.data,
            form.breed.data,
            form.coat_colour.data,
            form.strengths.data,
            form.weaknesses.data,
        ),
        "profile": User.worker_profile,
    },
}


def _people_page(role: str):
    kind = PEOPLE[role]
    form = kind["form"]()
    status = 200
    if form.validate_on_submit():
        try:
            user = kind["create"](form)
        except ValidationError as exc:
            db.session.rollback()
            apply_service_errors(form, exc.errors)
            status = 409 if isinstance(exc, DuplicateError) else 422
        else:
            db.session.commit()
            flash(f"{user.name} <{user.email}> was created and an invitation is on its way.", "success")
            return redirect(request.path, code=303)
    elif request.method == "POST":
        status = 422
    page, per_page = page_args()
    people = accounts.list_users_with_role(
        role, limit=per_page + 1, offset=(page - 1) * per_page, options=[selectinload(kind["profile"])]
    )
    return (
        render_template(
            f"managers/{role}s.html",
            title=kind["title"],
            form=form,
            people=people[:per_page],
            page=page,
            has_next=len(people) > per_page,
            total=accounts.count_users_with_role(role),
        ),
        status,
    )


@bp.route("/clients", methods=["GET", "POST"])
def clients():
    return _people_page("client")


@bp.route("/workers", methods=["GET", "POST"])
def workers():
    return _people_page("worker")


@bp.route("/people/<int:user_id>/invitation", methods=["POST"])
def resend_invitation(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.has_password:
        flash(f"{user.name} has already set a password.", "warning")
    else:
        accounts.issue_invitation(user)
        db.session.commit()
        flash(f"A new invitation is on its way to {user.email}.", "success")
    target = url_for("managers.workers") if user.has_role("worker") else url_for("managers.clients")
    return redirect(target, code=303)
