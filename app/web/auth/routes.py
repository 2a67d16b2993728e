from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services as accounts
from app.accounts.services import INVITATION, PASSWORD_RESET, LinkInvalid
from app.extensions import db, limiter
from app.platform.validation import ValidationError
from app.web.auth.blueprint import bp
from app.web.auth.forms import ForgotPasswordForm, LoginForm, SetPasswordForm
from app.web.core.access import AUTHENTICATED, access
from app.web.core.navigation import home_url, local_path


def _login_failed(response) -> bool:
    """Only failed attempts count against the limits (a success answers 303)."""
    return response.status_code != 303


def _account_key() -> str:
    return "login-account:" + accounts.normalise_email(request.form.get("email", ""))


SESSION_TOKEN = "sid"


def _start_session(user, token: str) -> None:
    session.clear()  # a fresh session on login: nothing from before survives
    login_user(user)
    session[SESSION_TOKEN] = token  # names the server-side session that logout revokes
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_login_failed)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            token = accounts.open_session(user)
            db.session.commit()
            _start_session(user, token)
            return redirect(local_path(request.args.get("next")) or home_url(user), code=303)
        form.password.errors.append("The email or the password is wrong.")
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@access(AUTHENTICATED)
@login_required
def logout():
    accounts.revoke_session(session.get(SESSION_TOKEN))
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        db.session.commit()
        flash("If an account has this email, a link to set a new password is on its way.", "info")
        return redirect(url_for("auth.login"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


def _set_password_page(token: str, purpose: str, title: str, intro: str):
    try:
        user = accounts.user_for_link(token, purpose)
    except LinkInvalid as exc:
        return render_template("auth/link_invalid.html", message=str(exc)), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.use_link(token, purpose, form.password.data)
        except ValidationError as exc:
            form.password.errors.extend(exc.errors.get("password", []))
        else:
            session_token = accounts.open_session(user)
            db.session.commit()
            _start_session(user, session_token)
            flash("Your password is set. Welcome!", "success")
            return redirect(home_url(user), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/set_password.html", form=form, user=user, title=title, intro=intro), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_page(
        token, INVITATION, "Welcome to MCF", "Choose a password to finish setting up your account."
    )


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_page(token, PASSWORD_RESET, "Set a new password", "Choose a new password.")
