"""Managers create clients and workers one by one (US-010); creation is synchronous."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.platform.uploads import discard_photo, save_photo, send_photo
from app.platform.validation import DuplicateError, ValidationError
from app.web.core.forms import apply_errors
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp
from app.web.manage.forms import ClientForm, WorkerForm


def _create_worker(form: WorkerForm) -> User:
    """The worker with their photo; every field's problem is reported at once, photo included."""
    photo_path, errors = None, {}
    if form.photo.data and form.photo.data.filename:
        try:
            photo_path = save_photo(form.photo.data, "workers")
        except ValidationError as exc:
            errors.update(exc.errors)
    try:
        user = accounts.create_worker(
            form.email.data,
            form.name.data,
            form.age.data,
            form.breed.data,
            form.coat_colour.data,
            form.strengths.data,
            form.weaknesses.data,
            photo_path=photo_path,
        )
    except ValidationError as exc:
        discard_photo(photo_path)
        raise type(exc)({**exc.errors, **errors}) from None
    if errors:
        discard_photo(photo_path)
        raise ValidationError(errors)
    return user


PEOPLE = {
    "client": {
        "title": "Clients",
        "form": ClientForm,
        "create": lambda form: accounts.create_client(
            form.email.data, form.name.data, form.address.data, form.payment_method.data, form.phone.data
        ),
        "profile": User.client_profile,
    },
    "worker": {
        "title": "Workers",
        "form": WorkerForm,
        "create": lambda form: _create_worker(form),
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
            form.form_errors.extend(apply_errors(form, exc.errors))
            status = 409 if isinstance(exc, DuplicateError) else 422
        else:
            db.session.commit()
            flash(f"{user.name} <{user.email}> was created and an invitation is on its way.", "success")
            return redirect(request.path, code=303)
    elif request.method == "POST":
        status = 422
    page, per_page = page_args()
    search = request.args.get("q", "").strip()[:120]
    people, has_next = accounts.users_with_role_page(
        role, page, per_page, options=[selectinload(kind["profile"])], search=search
    )
    return (
        render_template(
            f"manage/{role}s.html",
            title=kind["title"],
            form=form,
            people=people,
            page=page,
            has_next=has_next,
            q=search,
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


@bp.route("/workers/<int:user_id>/photo")
def worker_photo(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.worker_profile is None or not user.worker_profile.photo_path:
        abort(404)
    try:
        return send_photo(user.worker_profile.photo_path)
    except FileNotFoundError:
        abort(404)
