from __future__ import annotations

import hashlib

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

from app.accounts import services as accounts
from app.accounts.services import INVITATION, PASSWORD_RESET, LinkInvalid
from app.extensions import client_ip, db, limiter
from app.platform.budget import TokenBucket
from app.platform.validation import ValidationError
from app.web.auth.blueprint import bp
from app.web.auth.forms import ForgotPasswordForm, LoginForm, SetPasswordForm
from app.web.core.access import AUTHENTICATED, access
from app.web.core.errors import render_error
from app.web.core.login_gate import NOT_THIS_ADDRESS
from app.web.core.navigation import home_url, local_path


def _login_failed(response) -> bool:
    """Only failed attempts count against the limits (a success answers 303)."""
    return response.status_code != 303


def _account() -> str:
    return accounts.normalise_email(request.form.get("email", ""))[:254]


def _account_key() -> str:
    return "login-account:" + _account()


def _account_address_key() -> str:
    return f"login-account-address:{_account()}:{client_ip()}"


# ---------------------------------------------------------------- known devices

KNOWN_DEVICE_COOKIE = "mcf_known"
KNOWN_ACCOUNTS_KEPT = 5


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="mcf-known-device")


def _account_tag(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def _known_tags() -> list[str]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE, "")
    try:
        tags = _device_serializer().loads(raw) if raw else []
    except BadSignature:
        return []
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def _known_device() -> bool:
    """This browser signed in to this account before: the per-account limit does not apply to it."""
    return _account_tag(_account()) in _known_tags()


def _remember_device(response, user) -> None:
    tag = _account_tag(accounts.normalise_email(user.email))
    tags = [tag, *[known for known in _known_tags() if known != tag]][:KNOWN_ACCOUNTS_KEPT]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _device_serializer().dumps(tags),
        max_age=current_app.config["KNOWN_DEVICE_DAYS"] * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def _password_budget() -> TokenBucket:
    bucket = current_app.extensions.get("mcf_password_budget")
    if bucket is None:
        rate = current_app.config["PASSWORD_CHECKS_PER_SECOND"]
        bucket = current_app.extensions["mcf_password_budget"] = TokenBucket(rate, burst=max(1.0, rate))
    return bucket


SESSION_TOKEN = "sid"


def _start_session(user, token: str) -> None:
    session.clear()  # a fresh session on login: nothing from before survives
    login_user(user)
    session[SESSION_TOKEN] = token  # names the server-side session that logout revokes
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_login_failed)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_ADDRESS"],
    key_func=_account_address_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    exempt_when=_known_device,
)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        if not _password_budget().take():  # over budget: answered before any hashing
            body, status = render_error(429, "Many people are signing in right now. Try again in a few seconds.")
            # Everyone's budget, not this address's fault: the sign-in gate must not hold the address.
            return body, status, {NOT_THIS_ADDRESS: "1"}
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            token = accounts.open_session(user)
            db.session.commit()
            _start_session(user, token)
            response = redirect(local_path(request.args.get("next")) or home_url(user), code=303)
            _remember_device(response, user)
            return response
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
